//! What every test that runs the `swarmcast` binary needs.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// SIGTERM (a master then stops its workers), a bounded wait, then SIGKILL if still alive.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
