//! Where the CPU goes during a run: the time each process of the benchmark spent on a CPU (user +
//! system, all threads, from `/proc/PID/stat`), and how busy the whole machine was (`/proc/stat`).
//! On a small shared machine every process of the request path competes for the same cores, so
//! CPU time per operation is what decides throughput.

use std::collections::BTreeMap;

/// The name the service's CPU time is reported under.
pub const SERVICE: &str = "service";

/// CPU seconds used so far, by process name, and by the machine as a whole.
#[derive(Debug, Clone, Default)]
pub struct CpuClock {
    by_process: BTreeMap<String, f64>,
    machine_busy: f64,
    machine_total: f64,
}

/// CPU used between two [`CpuClock`] readings.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    /// CPU seconds by process name (`daprd`, `redis-server`, the service's binary, ...).
    pub by_process: BTreeMap<String, f64>,
    /// CPU seconds all processes of the machine used (other users' included).
    pub machine_busy: f64,
    /// CPU seconds the machine had (wall time × cores).
    pub machine_total: f64,
}

impl CpuClock {
    /// Reads the clocks of this process's children now (the stack, daprd, and the service,
    /// which is counted as `service`).
    pub fn read(service_pid: u32) -> Self {
        let own = std::process::id();
        let mut by_process = BTreeMap::new();
        for (pid, parent, name, seconds) in processes() {
            if pid == service_pid {
                *by_process.entry(SERVICE.to_owned()).or_insert(0.0) += seconds;
            } else if parent == own {
                *by_process.entry(name).or_insert(0.0) += seconds;
            }
        }
        let (machine_busy, machine_total) = machine();
        Self {
            by_process,
            machine_busy,
            machine_total,
        }
    }

    /// What was used from `self` to `later`.
    pub fn until(&self, later: &CpuClock) -> CpuUse {
        let by_process = later
            .by_process
            .iter()
            .map(|(name, seconds)| {
                (
                    name.clone(),
                    seconds - self.by_process.get(name).copied().unwrap_or(0.0),
                )
            })
            .collect();
        CpuUse {
            by_process,
            machine_busy: later.machine_busy - self.machine_busy,
            machine_total: later.machine_total - self.machine_total,
        }
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Every process: (pid, parent pid, name, CPU seconds used).
fn processes() -> Vec<(u32, u32, String, f64)> {
    let ticks = ticks_per_second();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (name) state ppid ...`: the name may contain spaces and parentheses.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After the name: state(0) ppid(1) ... utime(11) stime(12).
            let parent = fields.get(1)?.parse().ok()?;
            let used: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some((pid, parent, name, used / ticks))
        })
        .collect()
}

/// CPU seconds of the whole machine: (busy, total).
fn machine() -> (f64, f64) {
    let ticks = ticks_per_second();
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return (0.0, 0.0);
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|value| value.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let total: f64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    ((total - idle) / ticks, total / ticks)
}
