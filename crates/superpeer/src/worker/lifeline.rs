//! Workers never outlive their master: the kernel kills a worker when the master's spawning
//! thread dies (`PR_SET_PDEATHSIG`, Linux), a worker that was re-parented before arming it
//! exits at once, and a closed stdin pipe (the master died or stopped us) ends the worker.

/// Asks the kernel to SIGKILL this process when its parent dies, then checks that the
/// parent is still `master_pid` (it may have died before the request was made).
pub fn bind_to_master(master_pid: u32) -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGKILL))?;
    let parent = nix::unistd::getppid().as_raw();
    anyhow::ensure!(
        u32::try_from(parent).ok() == Some(master_pid),
        "parent is pid {parent}, not the master {master_pid}: the master is gone"
    );
    Ok(())
}
