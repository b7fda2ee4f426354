//! A real OpenSSH server on a loopback port whose keyboard-interactive logins go through
//! `pam_stepgate.so`, and a real `ssh` client answering its prompts.
//!
//! - sshd names its PAM service after the name it was started as, so it runs through a
//!   symbolic link named like the test's /etc/pam.d service: the system's own `sshd` service is
//!   never touched.
//! - The client answers prompts through `SSH_ASKPASS` with `SSH_ASKPASS_REQUIRE=force`
//!   (OpenSSH ≥ 8.4), which needs no terminal: the askpass script records each prompt and
//!   prints the answer the test left in a file.
#![allow(dead_code)]

use super::harness::Service;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

pub fn require_openssh() {
    for (path, package) in [
        (SSHD, "openssh-server"),
        (SSH, "openssh-client"),
        (SSH_KEYGEN, "openssh-client"),
    ] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: apt-get install {package} (scripts/test.sh should install it)"
        );
    }
}

/// A running sshd, killed when dropped.
pub struct Sshd {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    /// Starts sshd for `service` (the /etc/pam.d file it will use) on a free loopback port.
    pub fn start(service: &Service) -> Sshd {
        require_openssh();
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("host_ed25519");
        let st = Command::new(SSH_KEYGEN)
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .stdout(Stdio::null())
            .status()
            .expect("run ssh-keygen");
        assert!(st.success(), "ssh-keygen failed");
        // sshd refuses to start without its privilege-separation folder.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let port = stepgate_tests::free_port();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile none\n\
                 UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\n\
                 PubkeyAuthentication no\nAuthenticationMethods keyboard-interactive\n\
                 PermitRootLogin yes\nStrictModes no\nLogLevel VERBOSE\n",
                key = key.display()
            ),
        )
        .expect("write sshd_config");
        let link = dir.path().join(&service.name);
        std::os::unix::fs::symlink(SSHD, &link).expect("link sshd under the service's name");
        let log = std::fs::File::create(dir.path().join("sshd.log")).expect("sshd log");
        let child = Command::new(&link)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start sshd");
        let mut sshd = Sshd { child, port, dir };
        sshd.wait_until_listening();
        sshd
    }

    fn wait_until_listening(&mut self) {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sshd exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "sshd never listened:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Runs `ssh user@127.0.0.1 command`, answering every prompt with `answer`; returns the
    /// client's output and the prompts it was shown.
    pub fn ssh(&self, user: &str, command: &str, answer: &str) -> (Output, Vec<String>) {
        let work = tempfile::tempdir().expect("temp dir");
        let answer_file = work.path().join("answer");
        std::fs::write(&answer_file, answer).expect("answer file");
        let body = format!("cat '{}'\n", answer_file.display());
        let (child, prompts) = self.spawn_ssh(work.path(), user, command, &body);
        let out = child.wait_with_output().expect("run ssh");
        (out, read_prompts(&prompts))
    }

    /// Starts `ssh user@127.0.0.1 command` whose prompts are answered by `answers`, a shell
    /// snippet reading the prompt as `$1` (each prompt is also appended to the returned file).
    pub fn spawn_ssh(
        &self,
        work: &Path,
        user: &str,
        command: &str,
        answers: &str,
    ) -> (std::process::Child, PathBuf) {
        let prompts = work.join("prompts");
        let askpass = work.join("askpass");
        std::fs::write(
            &askpass,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n{answers}",
                prompts.display(),
            ),
        )
        .expect("askpass script");
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700))
            .expect("chmod askpass");
        let child = Command::new(SSH)
            .args(["-F", "/dev/null", "-p", &self.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "PreferredAuthentications=keyboard-interactive",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "NumberOfPasswordPrompts=1",
                "-o",
                "ConnectTimeout=20",
            ])
            .arg(format!("{user}@127.0.0.1"))
            .arg(command)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ssh");
        (child, prompts)
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The prompts an askpass script recorded so far, one per line.
pub fn read_prompts(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
