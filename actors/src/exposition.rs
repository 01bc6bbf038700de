//! Prometheus' text exposition format (0.0.4), as each subsystem writes its own metric
//! families next to the counters it keeps: a family's name is written once (its samples
//! go through the [`Family`] that named it), help and type come with it, label values are
//! escaped. No dependencies: every layer may render into it; `api::metrics` only collects.

use std::fmt::Write;

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets with the process).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// A subsystem outside the node's own wiring (the archive, an embedder's) that adds its
/// families to every scrape (`Node::add_metrics`).
pub trait MetricsSource: Send + Sync {
    /// Writes its families.
    fn render(&self, out: &mut Exposition);
}

/// One scrape's text.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

/// The samples of one family, written under the name it was opened with.
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut Exposition,
    name: &'static str,
}

impl Exposition {
    /// An empty exposition with room for a typical scrape.
    pub fn new() -> Self {
        Self {
            text: String::with_capacity(16 * 1024),
        }
    }

    /// Opens family `name` (its `# HELP` and `# TYPE` lines); add samples to what it
    /// returns.
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &str) -> Family<'_> {
        let _ = writeln!(
            self.text,
            "# HELP {name} {help}\n# TYPE {name} {}",
            kind.as_str()
        );
        Family { out: self, name }
    }

    /// A family of one unlabelled counter.
    pub fn counter(&mut self, name: &'static str, help: &str, value: u64) {
        self.family(name, Kind::Counter, help).sample(&[], value);
    }

    /// A family of one unlabelled gauge.
    pub fn gauge(&mut self, name: &'static str, help: &str, value: u64) {
        self.family(name, Kind::Gauge, help).sample(&[], value);
    }

    /// Appends lines written elsewhere (a family of a kind this type does not model, such
    /// as a histogram); they must end with a newline.
    pub fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// The text so far.
    pub fn into_text(self) -> String {
        self.text
    }
}

impl Family<'_> {
    /// One sample with `labels` (key, value); values are escaped as the format asks.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: u64) -> &mut Self {
        let text = &mut self.out.text;
        text.push_str(self.name);
        if !labels.is_empty() {
            text.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                let _ = write!(text, "{key}=\"{}\"", escape(val));
            }
            text.push('}');
        }
        let _ = writeln!(text, " {value}");
        self
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_writes_help_type_and_escaped_samples() {
        let mut out = Exposition::new();
        out.family("x_total", Kind::Counter, "Things.")
            .sample(&[("kind", "a\"b\\c\nd")], 3)
            .sample(&[("kind", "e"), ("v", "1")], 4);
        out.gauge("y", "A level.", 7);
        assert_eq!(
            out.into_text(),
            "# HELP x_total Things.\n# TYPE x_total counter\n\
             x_total{kind=\"a\\\"b\\\\c\\nd\"} 3\nx_total{kind=\"e\",v=\"1\"} 4\n\
             # HELP y A level.\n# TYPE y gauge\ny 7\n"
        );
    }
}
