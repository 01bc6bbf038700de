//! A node's [`NodeEvent`]s as a channel a test awaits.

use std::time::Duration;

use actix::prelude::*;
use ethpeer_actors::node::{Node, NodeEvent};
use tokio::sync::mpsc;

/// Forwards node events into a channel the test awaits.
struct Events(mpsc::UnboundedSender<NodeEvent>);

impl Actor for Events {
    type Context = Context<Self>;
}

impl Handler<NodeEvent> for Events {
    type Result = ();

    fn handle(&mut self, msg: NodeEvent, _ctx: &mut Self::Context) {
        let _ = self.0.send(msg);
    }
}

pub fn subscribe(node: &Node) -> mpsc::UnboundedReceiver<NodeEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    node.subscribe(Events(tx).start().recipient());
    rx
}

/// The next event matching `pick`, within 10 s.
pub async fn wait_for<T>(
    events: &mut mpsc::UnboundedReceiver<NodeEvent>,
    mut pick: impl FnMut(&NodeEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.recv().await.expect("node alive");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("event within 10 s")
}
