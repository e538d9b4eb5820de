//! What the benchmarks measure besides latency: where the CPU goes during a run, and medians over
//! rounds. Shared by `make bench`'s `service-load` (`bench/`) and `saga-bench` (`tests/order-saga`).
//!
//! CPU time is read from `/proc`: per process the user + system time of all its threads
//! (`/proc/PID/stat`), and how busy the whole machine was (`/proc/stat`). On a small shared machine
//! every process of the request path competes for the same cores, so CPU time per operation is
//! what decides throughput.
//!
//! ```no_run
//! use dapr_harness::measure::{CpuClock, median};
//!
//! let processes = [("driver".to_owned(), std::process::id())];
//! let before = CpuClock::of_processes(&processes);
//! // ... the work being measured ...
//! let used = before.until(&CpuClock::of_processes(&processes));
//! println!("{:.3} CPU s, machine {:.0} % busy", used.by_process["driver"], used.machine_busy_percent());
//! assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
//! ```

use std::collections::BTreeMap;

/// CPU seconds used so far, by process name, and by the machine as a whole.
#[derive(Debug, Clone, Default)]
pub struct CpuClock {
    by_process: BTreeMap<String, f64>,
    machine: MachineCpu,
}

/// CPU used between two [`CpuClock`] readings.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    /// CPU seconds by process name (as the reading named them: `daprd`, `redis-server`, ...).
    pub by_process: BTreeMap<String, f64>,
    /// CPU seconds all processes of the machine used (other users' included).
    pub machine_busy: f64,
    /// CPU seconds the machine had (wall time × cores).
    pub machine_total: f64,
}

impl CpuUse {
    /// How busy the machine was, in percent of what it had.
    pub fn machine_busy_percent(&self) -> f64 {
        100.0 * self.machine_busy / self.machine_total
    }
}

/// One process's CPU clock, as `/proc/PID/stat` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessCpu {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub parent: u32,
    /// Its command name (`comm`: the executable's name, cut to 15 bytes).
    pub name: String,
    /// User + system CPU seconds it has used so far, all threads.
    pub seconds: f64,
}

/// CPU seconds of the whole machine (all cores) so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineCpu {
    /// Busy: everything but idle and iowait.
    pub busy: f64,
    /// Everything: user, nice, system, idle, iowait, irq, softirq and steal.
    pub total: f64,
}

impl CpuClock {
    /// Reads the clocks of `processes` (name, pid; several pids under one name add up) and of the
    /// machine. A process that has gone counts as zero, under its name still.
    pub fn of_processes(processes: &[(String, u32)]) -> CpuClock {
        let mut by_process = BTreeMap::new();
        for (name, pid) in processes {
            *by_process.entry(name.clone()).or_insert(0.0) += process(*pid).map_or(0.0, |process| process.seconds);
        }
        CpuClock {
            by_process,
            machine: machine(),
        }
    }

    /// Reads the clocks of every process `name_of` names (several processes under one name add
    /// up; `None` leaves a process out) and of the machine.
    pub fn of_every_process(mut name_of: impl FnMut(&ProcessCpu) -> Option<String>) -> CpuClock {
        let mut by_process = BTreeMap::new();
        for process in processes() {
            if let Some(name) = name_of(&process) {
                *by_process.entry(name).or_insert(0.0) += process.seconds;
            }
        }
        CpuClock {
            by_process,
            machine: machine(),
        }
    }

    /// What was used from `self` to `later`, for every name `later` has.
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
            machine_busy: later.machine.busy - self.machine.busy,
            machine_total: later.machine.total - self.machine.total,
        }
    }
}

/// The pids of the processes whose command name is `name` (e.g. `redis-server`), anyone's.
pub fn pids_named(name: &str) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name))
        .collect()
}

/// Every process's CPU clock now (those that go while being read are left out).
pub fn processes() -> Vec<ProcessCpu> {
    pids().into_iter().filter_map(process).collect()
}

/// Process `pid`'s CPU clock now, unless it has gone.
pub fn process(pid: u32) -> Option<ProcessCpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (name) state ppid ...`: the name may contain spaces and parentheses.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    let parent = fields.get(1)?.parse().ok()?;
    let used: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ProcessCpu {
        pid,
        parent,
        name,
        seconds: used / ticks_per_second(),
    })
}

/// The machine's CPU clock now (zero when `/proc/stat` cannot be read).
pub fn machine() -> MachineCpu {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return MachineCpu::default();
    };
    let values: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|value| value.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let total: f64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
    let ticks = ticks_per_second();
    MachineCpu {
        busy: (total - idle) / ticks,
        total: total / ticks,
    }
}

/// The median of `values`: the middle one, or the mean of the middle two for an even count;
/// `None` when there are none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

/// Every pid in `/proc`.
fn pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

/// Clock ticks per second of `/proc`'s CPU times (`USER_HZ`).
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median([]), None);
    }

    #[test]
    fn clocks_of_this_process_and_of_the_machine_are_read() {
        let own = std::process::id();
        let this = process(own).expect("this process's stat");
        assert_eq!(this.pid, own);
        assert_eq!(this.parent, std::os::unix::process::parent_id());
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(this.name, comm.trim());
        assert!(pids_named(comm.trim()).contains(&own));
        assert!(processes().iter().any(|process| process.pid == own));
        let machine = machine();
        assert!(machine.total > 0.0 && machine.busy <= machine.total, "{machine:?}");

        let named = [("gone".to_owned(), u32::MAX), ("me".to_owned(), own)];
        let before = CpuClock::of_processes(&named);
        let used = before.until(&CpuClock::of_processes(&named));
        assert_eq!(used.by_process["gone"], 0.0);
        assert!(used.by_process["me"] >= 0.0, "{used:?}");
        assert!(
            used.machine_busy >= 0.0 && used.machine_total >= used.machine_busy,
            "{used:?}"
        );

        let mine = |process: &ProcessCpu| (process.pid == own).then(|| "me".to_owned());
        let before = CpuClock::of_every_process(mine);
        let used = before.until(&CpuClock::of_every_process(mine));
        assert_eq!(used.by_process.keys().collect::<Vec<_>>(), ["me"]);
        assert!(used.by_process["me"] >= 0.0, "{used:?}");
    }
}
