//! `ethpeer archive merge` and `report`: one archive from several nodes' (transactions
//! de-duplicated by hash, every source's sightings kept) and the tables mempool-dumpster's
//! analysis printed: for each pair of sources how often each was first and by how much,
//! coverage per source, transactions only one source saw (and how many of those were
//! included), inclusion delay percentiles, and the first-seen latency CDF per source as
//! SVG. Percentiles are nearest-rank (the smallest value with at least p of the values at
//! or below it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use alloy_primitives::B256;

use super::files::{FileError, HourFiles};
use super::hour::Hour;
use super::store::parse_stem;

/// The hour stems (`2026-12-05T21`) with a transactions file under `dir`.
pub fn hours_in(dir: &Path) -> Result<BTreeSet<String>, FileError> {
    let io = |error| FileError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut stems = BTreeSet::new();
    for day in std::fs::read_dir(dir).map_err(io)?.flatten() {
        let Ok(entries) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".transactions.parquet") {
                if parse_stem(stem).is_some() {
                    stems.insert(stem.to_string());
                }
            }
        }
    }
    Ok(stems)
}

/// Merges the archives in `inputs` into `out`, hour by hour; answers (hours, txs).
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<(usize, usize), FileError> {
    let mut stems = BTreeSet::new();
    for input in inputs {
        stems.extend(hours_in(input)?);
    }
    let mut txs = 0;
    for stem in &stems {
        let mut hour = Hour::default();
        for input in inputs {
            HourFiles::new(input, stem).read_into(&mut hour)?;
        }
        txs += hour.txs.len();
        HourFiles::new(out, stem).write(&hour)?;
    }
    Ok((stems.len(), txs))
}

/// What one transaction looked like across sources.
struct Seen {
    /// Each source's first sighting, ns, from the sourcelog (a source without sightings
    /// rows, lost at a crash, counts for coverage but is never timed).
    first: BTreeMap<String, i64>,
    /// Every source that saw it.
    sources: BTreeSet<String>,
    included: bool,
}

/// Lead statistics of one pair of sources.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PairStats {
    /// The pair (a, b).
    pub a: String,
    /// The second source.
    pub b: String,
    /// Transactions both saw.
    pub both: usize,
    /// Those `a` saw first.
    pub a_first: usize,
    /// Those `b` saw first.
    pub b_first: usize,
    /// `a`'s lead over `b`, ms (positive: `a` first, negative: `b` first): p50, p90,
    /// p99 of the signed differences.
    pub lead_ms: [f64; 3],
}

/// The report over one archive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Hours read.
    pub hours: usize,
    /// Transactions.
    pub txs: usize,
    /// Per source: transactions seen.
    pub coverage: BTreeMap<String, usize>,
    /// Per source: transactions only it saw, and how many of those were included (the
    /// share printed is of the source's own coverage).
    pub exclusive: BTreeMap<String, (usize, usize)>,
    /// Every pair of sources.
    pub pairs: Vec<PairStats>,
    /// Included transactions and their inclusion delay, ms: p50, p90, p99.
    pub inclusion: (usize, [i64; 3]),
    /// Per source: its latency behind the first source, ms, sorted (for the CDF).
    pub latency_ms: BTreeMap<String, Vec<f64>>,
}

/// The nearest-rank percentile `p` (0-1) of sorted `values`.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Reads every hour of `dir` and computes the [`Report`].
pub fn report(dir: &Path) -> Result<Report, FileError> {
    let stems = hours_in(dir)?;
    let mut seen: HashMap<B256, Seen> = HashMap::new();
    let mut included: HashMap<B256, i64> = HashMap::new();
    for stem in &stems {
        let mut hour = Hour::default();
        HourFiles::new(dir, stem).read_into(&mut hour)?;
        // A tx whose sources first saw it on either side of an hour's end sits in two
        // hours' files: its entries merge (every source, each one's earliest time).
        for row in hour.txs.values() {
            let entry = seen.entry(row.record.hash).or_insert_with(|| Seen {
                first: BTreeMap::new(),
                sources: BTreeSet::new(),
                included: false,
            });
            entry.sources.extend(row.sources.iter().cloned());
            if let Some(delay) = row.inclusion_delay_ms() {
                entry.included = true;
                let d = included.entry(row.record.hash).or_insert(delay);
                *d = (*d).max(delay);
            }
        }
        for s in &hour.sourcelog {
            if let Some(entry) = seen.get_mut(&s.hash) {
                let t = entry.first.entry(s.source.clone()).or_insert(s.time_ns);
                *t = (*t).min(s.time_ns);
            }
        }
    }
    // One delay per tx: from its earliest sighting anywhere (the largest of its rows').
    let mut delays: Vec<i64> = included.into_values().collect();
    delays.sort_unstable();
    let mut report = Report {
        hours: stems.len(),
        txs: seen.len(),
        inclusion: (
            delays.len(),
            [0.5, 0.9, 0.99].map(|p| percentile(&delays, p)),
        ),
        ..Report::default()
    };
    let sources: BTreeSet<String> = seen
        .values()
        .flat_map(|s| s.first.keys().cloned())
        .collect();
    for s in &seen {
        tally(&mut report, s.1);
    }
    for (i, a) in sources.iter().enumerate() {
        for b in sources.iter().skip(i + 1) {
            report.pairs.push(pair(&seen, a, b));
        }
    }
    for values in report.latency_ms.values_mut() {
        values.sort_by(f64::total_cmp);
    }
    Ok(report)
}

fn tally(report: &mut Report, s: &Seen) {
    let first = s.first.values().copied().min().unwrap_or(0);
    for source in &s.sources {
        *report.coverage.entry(source.clone()).or_default() += 1;
    }
    for (source, t) in &s.first {
        report
            .latency_ms
            .entry(source.clone())
            .or_default()
            .push(t.saturating_sub(first) as f64 / 1e6);
    }
    if let (1, Some(only)) = (s.sources.len(), s.sources.iter().next()) {
        let e = report.exclusive.entry(only.clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(s.included);
    }
}

fn pair(seen: &HashMap<B256, Seen>, a: &str, b: &str) -> PairStats {
    let mut stats = PairStats {
        a: a.to_string(),
        b: b.to_string(),
        ..PairStats::default()
    };
    let mut leads = Vec::new();
    for s in seen.values() {
        let (Some(ta), Some(tb)) = (s.first.get(a), s.first.get(b)) else {
            continue;
        };
        stats.both += 1;
        match ta.cmp(tb) {
            std::cmp::Ordering::Less => stats.a_first += 1,
            std::cmp::Ordering::Greater => stats.b_first += 1,
            std::cmp::Ordering::Equal => {}
        }
        leads.push(tb.saturating_sub(*ta) as f64 / 1e6);
    }
    leads.sort_by(f64::total_cmp);
    stats.lead_ms = [0.5, 0.9, 0.99].map(|p| percentile(&leads, p));
    stats
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl Report {
    /// The report as Markdown tables.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} txs in {} hours\n", self.txs, self.hours);
        let _ = writeln!(
            out,
            "| source | txs seen | coverage | only this source | of those included |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for (source, n) in &self.coverage {
            let (only, included) = self.exclusive.get(source).copied().unwrap_or_default();
            let _ = writeln!(
                out,
                "| {source} | {n} | {:.1}% | {only} ({:.1}% of its) | {included} |",
                share(*n, self.txs),
                share(only, *n)
            );
        }
        let _ = writeln!(
            out,
            "\n| pair (a / b) | both saw | a first | b first | a's lead p50 ms | p90 ms | p99 ms |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for p in &self.pairs {
            let _ = writeln!(
                out,
                "| {} / {} | {} | {} ({:.1}%) | {} ({:.1}%) | {:.3} | {:.3} | {:.3} |",
                p.a,
                p.b,
                p.both,
                p.a_first,
                share(p.a_first, p.both),
                p.b_first,
                share(p.b_first, p.both),
                p.lead_ms[0],
                p.lead_ms[1],
                p.lead_ms[2]
            );
        }
        let (n, [p50, p90, p99]) = self.inclusion;
        let _ = writeln!(
            out,
            "\ninclusion delay ({n} included txs): p50 {p50} ms, p90 {p90} ms, p99 {p99} ms"
        );
        out
    }

    /// Draws each source's first-seen latency CDF (ms behind the first source) to `path`
    /// as SVG.
    pub fn plot_cdf(&self, path: &Path) -> Result<(), String> {
        use plotters::prelude::*;
        let max = self
            .latency_ms
            .values()
            .map(|v| percentile(v, 0.99))
            .fold(1.0_f64, f64::max);
        let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "first-seen latency behind the first source",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..max, 0.0..1.0)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("ms behind the first sighting")
            .y_desc("share of the source's txs")
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, (source, values)) in self.latency_ms.iter().enumerate() {
            let n = values.len().max(1) as f64;
            let points = values
                .iter()
                .enumerate()
                .map(|(k, v)| (v.min(max), (k + 1) as f64 / n));
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(source.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    }
}
