//! Foreign load: how many cores *other* processes kept busy while a measurement ran, from
//! `/proc/stat` (all CPUs) minus this process's own CPU time (`/proc/self/stat`). The peers
//! report the same number (`foreign load ... cores`) and rerun a child above 0.15 cores; this
//! machine is shared, so `run.sh` does the same with ours. Linux only (`None` elsewhere).
use std::time::Instant;

/// Kernel clock ticks per second of /proc times (USER_HZ; 100 on every mainstream Linux build).
const CLK_TCK: f64 = 100.0;

/// Busy ticks of all CPUs: the first 8 counters of /proc/stat's `cpu` line minus idle and iowait.
fn busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).take(8).filter_map(|x| x.parse().ok()).collect();
    (v.len() == 8).then(|| v.iter().sum::<u64>() - v[3] - v[4])
}

/// This process's user + system ticks (all threads).
fn own_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub struct LoadMeter {
    wall: Instant,
    busy: Option<u64>,
    own: Option<u64>,
}

impl LoadMeter {
    pub fn start() -> LoadMeter {
        LoadMeter { wall: Instant::now(), busy: busy_ticks(), own: own_ticks() }
    }
    /// Cores used by other processes since `start` (0 when below the tick resolution).
    pub fn foreign_cores(&self) -> Option<f64> {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-9);
        let busy = busy_ticks()?.checked_sub(self.busy?)? as f64;
        let own = own_ticks()?.checked_sub(self.own?)? as f64;
        Some(((busy - own) / CLK_TCK / wall).max(0.0))
    }
}
