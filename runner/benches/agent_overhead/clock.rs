//! The clocks the bench reads besides the wall clock: the CPU time of the whole process (every
//! thread, those that ended too, such as the search's walker threads), and the CPU time of
//! the one thread the fake Ollama runs on, to take out of it.

use std::time::Duration;

/// CPU time of the whole process, from `CLOCK_PROCESS_CPUTIME_ID` (nanoseconds).
#[cfg(unix)]
pub fn process_cpu() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[cfg(not(unix))]
pub fn process_cpu() -> Duration {
    Duration::ZERO
}

/// The calling thread's id, from `/proc/thread-self` (`PID/task/TID`); `None` off Linux.
pub fn this_thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// CPU time of thread `tid` of this process, from its `schedstat` (nanoseconds on the CPU,
/// readable from any thread); zero where that file is not available.
pub fn thread_cpu(tid: Option<u32>) -> Duration {
    let Some(tid) = tid else {
        return Duration::ZERO;
    };
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}
