//! Processes, read from `/proc` (Linux only, like the rest of this crate): the tree under a
//! driver, the app's process in it, CPU time, and SIGKILL through `kill(1)` (the workspace
//! forbids `unsafe`, so no libc calls).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// `(pid, ppid)` of every process now.
fn parents() -> HashMap<u32, u32> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return map;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(fields) = stat_fields(pid)
            && let Some(ppid) = fields.get(1).and_then(|s| s.parse().ok())
        {
            map.insert(pid, ppid);
        }
    }
    map
}

/// The fields of `/proc/PID/stat` after the command name: `[state, ppid, pgrp, ...]`, so
/// field N of proc(5) (1-based) is at index N - 3.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Every descendant of `root`, parents before children.
pub fn descendants(root: u32) -> Vec<u32> {
    let map = parents();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        let mut children: Vec<u32> = map
            .iter()
            .filter(|&(_, &pp)| pp == p)
            .map(|(&c, _)| c)
            .collect();
        children.sort_unstable();
        out.extend(&children);
        frontier.extend(children);
    }
    out
}

/// The executable of `pid`, as `/proc/PID/exe` names it (without a " (deleted)" suffix, which
/// appears when the binary was rebuilt while it ran).
pub fn exe(pid: u32) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let text = link.to_string_lossy().into_owned();
    Some(text.trim_end_matches(" (deleted)").to_owned())
}

/// The first descendant of `root` running `binary`.
pub fn find_descendant(root: u32, binary: &Path) -> Option<u32> {
    let want = binary
        .canonicalize()
        .unwrap_or_else(|_| binary.to_path_buf())
        .to_string_lossy()
        .into_owned();
    descendants(root)
        .into_iter()
        .find(|&pid| exe(pid).as_deref() == Some(want.as_str()))
}

/// Every live process running `binary`.
pub fn running(binary: &Path) -> Vec<u32> {
    let want = binary
        .canonicalize()
        .unwrap_or_else(|_| binary.to_path_buf())
        .to_string_lossy()
        .into_owned();
    let mut pids: Vec<u32> = parents()
        .into_keys()
        .filter(|&pid| alive(pid) && exe(pid).as_deref() == Some(want.as_str()))
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z"))
}

/// Sends SIGKILL to each pid (errors ignored: it may be gone already).
pub fn kill9(pids: &[u32]) {
    if !pids.is_empty() {
        let _ = tl_test_support::send_signal("KILL", pids);
    }
}

/// User + system CPU time of `pid` in clock ticks (utime + stime, fields 14 and 15).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let f = stat_fields(pid)?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux when it cannot be asked).
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}
