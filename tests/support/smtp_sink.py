#!/usr/bin/python3
"""A real SMTP server for Stepgate's tests: accepts any mail on 127.0.0.1:PORT and stores each
message, byte for byte as received, in DIR/<n>.eml.

Needs Debian's python3-aiosmtpd, so run it with the system interpreter:

    /usr/bin/python3 tests/support/smtp_sink.py --port 2525 --maildir /tmp/mail

Prints READY on stdout once it accepts connections and exits on SIGTERM or SIGINT. With
--auth-user/--auth-password, MAIL is refused until the client authenticates with exactly those
credentials (over plain text, which is fine on loopback). With --watch-stdin it also exits when
its stdin closes, so a test that dies without cleaning up does not leave it running.
"""

import argparse
import itertools
import os
import signal
import sys
import threading
import warnings

# Plain-text AUTH is the point on loopback; aiosmtpd's warning about it is noise in test logs.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:
    sys.stderr.write(
        "smtp_sink.py: aiosmtpd is missing for %s; run: apt-get install python3-aiosmtpd\n"
        % sys.executable
    )
    sys.exit(3)


class MaildirHandler:
    """Writes each message under a temporary name first, then renames it: a reader polling the
    folder sees either no file or a whole one."""

    def __init__(self, maildir):
        self.maildir = maildir
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = next(self.counter)
        final = os.path.join(self.maildir, "%06d.eml" % n)
        temp = os.path.join(self.maildir, ".%06d.eml.tmp" % n)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        with open(temp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, final)
        return "250 Message accepted for delivery"


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode("utf-8")
        self.password = password.encode("utf-8")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        # handled=False: let aiosmtpd send the 235/535 reply; the default (True) sends nothing
        # on failure and leaves the client waiting.
        return AuthResult(success=ok, handled=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--auth-user")
    parser.add_argument("--auth-password")
    parser.add_argument("--watch-stdin", action="store_true")
    args = parser.parse_args()
    if (args.auth_user is None) != (args.auth_password is None):
        parser.error("--auth-user and --auth-password go together")

    os.makedirs(args.maildir, exist_ok=True)
    smtp_options = {}
    if args.auth_user is not None:
        smtp_options = dict(
            authenticator=Authenticator(args.auth_user, args.auth_password),
            auth_required=True,
            auth_require_tls=False,
        )
    controller = Controller(
        MaildirHandler(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        **smtp_options
    )

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.watch_stdin:

        def watch():
            sys.stdin.buffer.read()
            stop.set()

        threading.Thread(target=watch, daemon=True).start()

    controller.start()
    try:
        print("READY", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
