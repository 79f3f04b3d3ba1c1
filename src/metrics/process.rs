//! The daemon's own process metrics, named as Prometheus's client libraries name them:
//! CPU seconds, resident and virtual memory, open and allowed descriptors, start time.
//! Read from `/proc/self` at each scrape (a few small files); elsewhere nothing is
//! written.

use super::text::{Kind, Writer};

#[cfg(target_os = "linux")]
pub fn write(out: &mut Writer) {
    use nix::unistd::{SysconfVar, sysconf};
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // stat(5) numbers fields from 1 (pid); `rest` starts at field 3 (state).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let ticks = sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as f64;
    let page = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .filter(|p| *p > 0)
        .unwrap_or(4096) as u64;
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        out.family(
            "process_cpu_seconds",
            Kind::Counter,
            "Total user and system CPU time spent in seconds.",
        );
        out.sample(
            "process_cpu_seconds_total",
            &[],
            (utime + stime) as f64 / ticks,
        );
    }
    if let Some(vsize) = field(23) {
        out.family(
            "process_virtual_memory_bytes",
            Kind::Gauge,
            "Virtual memory size in bytes.",
        );
        out.sample("process_virtual_memory_bytes", &[], vsize);
    }
    if let Some(rss) = field(24) {
        out.family(
            "process_resident_memory_bytes",
            Kind::Gauge,
            "Resident memory size in bytes.",
        );
        out.sample("process_resident_memory_bytes", &[], rss * page);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        out.family(
            "process_open_fds",
            Kind::Gauge,
            "Number of open file descriptors.",
        );
        out.sample("process_open_fds", &[], dir.count() as u64);
    }
    if let Ok((soft, _)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        out.family(
            "process_max_fds",
            Kind::Gauge,
            "Maximum number of open file descriptors.",
        );
        out.sample("process_max_fds", &[], soft);
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        out.family(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the process since unix epoch in seconds.",
        );
        out.sample(
            "process_start_time_seconds",
            &[],
            boot as f64 + start as f64 / ticks,
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub fn write(_out: &mut Writer) {}
