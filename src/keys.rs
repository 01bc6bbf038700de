//! `ethpeer key generate` and `ethpeer key show`: node key files as geth writes them.

use std::path::Path;

use ethpeer_actors::discovery::enode::Enode;

/// `ethpeer key generate [FILE]`: a new key, written to FILE (never over an existing one)
/// or printed, with its id and enode URL.
pub fn key_generate(file: Option<&Path>, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    use ethpeer_actors::discovery::enode::{new_node_key, save_node_key};
    let key = new_node_key();
    if let Some(file) = file {
        save_node_key(file, &key)?;
    }
    let id = ethpeer_actors::rlpx::handshake::NodeKey::new(key).id();
    let mut out = serde_json::json!({
        "id": id,
        "enode": Enode { id, addr }.to_string(),
    });
    match file {
        Some(file) => out["file"] = serde_json::json!(file.display().to_string()),
        None => out["key"] = serde_json::json!(alloy_primitives::hex::encode(key.secret_bytes())),
    }
    println!("{out}");
    Ok(())
}

/// `ethpeer key show FILE`.
pub fn key_show(file: &Path, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let key = ethpeer_actors::discovery::enode::read_node_key(file)?;
    let id = ethpeer_actors::rlpx::handshake::NodeKey::new(key).id();
    // The node's own record when it saved one next to the key, else one for `addr`.
    let saved = file
        .parent()
        .map(|dir| dir.join(ethpeer_actors::discovery::enr::RECORD_FILE))
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| ethpeer_actors::discovery::enr::parse_record(&text).ok())
        .filter(|record| ethpeer_actors::discovery::enr::node_id(record) == id);
    let record = match saved {
        Some(record) => record,
        None => {
            let content = ethpeer_actors::discovery::enr::RecordContent {
                ip: Some(addr.ip()),
                tcp: addr.port(),
                udp: Some(addr.port()),
                fork_id: None,
            };
            ethpeer_actors::discovery::enr::LocalRecord::load_or_create(&key, content, None)?
                .record()
                .clone()
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "id": id,
            "enode": Enode { id, addr }.to_string(),
            "enr": record.to_base64(),
        })
    );
    Ok(())
}
