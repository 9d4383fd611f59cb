"""The mailbot command line (SPEC §6); each command imports only the modules it uses, so a quick one stays quick."""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailbot import cli_parser
from mailbot.config import ConfigError, load_settings
from mailbot.domain.errors import MailbotError, NotReady

if TYPE_CHECKING:
    from mailbot.app import App


DEFAULT_GC_THRESHOLDS = gc.get_threshold()


class UsageError(MailbotError):
    """Bad arguments: exit 2."""


class LockHeld(MailbotError):
    """Another mailbot process works on this database: exit 1."""


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now: {value!r} is not an ISO date-time, e.g. 2026-11-24T09:00+07:00") from None
    if dt.tzinfo is None:
        raise UsageError("--now: give a time zone offset, e.g. 2026-11-24T09:00+07:00")
    return dt.astimezone(timezone.utc)


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry, no LOGNAME (containers)
        return ""


def _decider(args: argparse.Namespace) -> str:
    """Who decides or changes something from the terminal: --by, else $SUDO_USER, else the login — a person,
    never "root" (SPEC §2: the audit trail names who did it)."""
    given = (getattr(args, "by", None) or "").strip()
    candidates = [given] if given else [os.environ.get("SUDO_USER") or "", _login()]
    for name in (c.strip() for c in candidates):
        if name and name.lower() != "root":
            if not re.fullmatch(r"[\w .@+'-]{1,100}", name):
                raise UsageError(f"--by: {name!r} is not a name (letters, digits, spaces, . _ - @ + ')")
            return name
    raise UsageError("who is deciding? running as root: give your own name with --by NAME")


def _app(args: argparse.Namespace, *, secrets_needed: bool = False, migrate: bool = False) -> App:
    from mailbot.app import build_app
    from mailbot.store.access import check_storage

    settings = load_settings(args.config)
    if secrets_needed:
        settings.require_secrets()  # an unset secret is named before anything else
    # Permission and ownership problems are one line naming the path (NotReady, exit 2), before any file
    # is touched; the schema must be current (`mailbot migrate`), except for `run`, which migrates.
    check_storage(settings, create=migrate)
    # Secrets are read once into the App; a command that needs a missing one (e.g. the HMAC key to queue
    # mail) exits 2 naming its key. There is no placeholder secret.
    app = build_app(settings, require_secrets=secrets_needed, migrate_db=migrate)
    args.opened.append(app)  # main() closes its database when the command is done
    return app


@contextmanager
def _locked(app: App) -> Iterator[None]:
    """The instance lock of `mailbot poll` and `mailbot run`; held elsewhere: LockHeld (exit 1)."""
    from mailbot.runner import AlreadyRunning, instance_lock

    try:
        with instance_lock(app):
            yield
    except AlreadyRunning as exc:
        raise LockHeld(str(exc)) from None


def _listing(args: argparse.Namespace, rows: list[dict[str, Any]], line: Callable[[dict[str, Any]], str],
             empty: str = "") -> int:
    """A listing command's output: one JSON document with --json, else a line per row (or `empty`)."""
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return 0
    for r in rows:
        print(line(r))
    if not rows and empty:
        print(empty)
    return 0


# -- commands --------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from mailbot.cli_install import init

    return init(args.config, force=args.force)


def cmd_migrate(args: argparse.Namespace) -> int:
    from mailbot.cli_install import migrate_schema

    return migrate_schema(load_settings(args.config))


def cmd_backup(args: argparse.Namespace) -> int:
    from mailbot.cli_install import backup_command

    return backup_command(load_settings(args.config), Path(args.dest))


def cmd_restore(args: argparse.Namespace) -> int:
    from mailbot.cli_install import restore_command

    return restore_command(load_settings(args.config), Path(args.src))


def cmd_purge(args: argparse.Namespace) -> int:
    from mailbot.admin.retention import purge

    result = purge(_app(args), _now(args.now), dry_run=args.dry_run)
    for line in result.lines():
        print(line)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from mailbot.cli_check import check

    return check(load_settings(args.config))


def cmd_oauth_login(args: argparse.Namespace) -> int:
    from mailbot.app import oauth_source, read_secrets

    settings = load_settings(args.config)
    if not settings.uses_oauth2:
        raise ConfigError('imap.auth: set auth = "oauth2" in [imap] (and/or [smtp]) before `mailbot oauth login`')
    source = oauth_source(settings, read_secrets(settings, required=False))
    assert source is not None
    source.client_secret = settings.oauth2_client_secret()  # Google needs it; exit 2 naming the key if unset
    token = source.device_login(lambda line: print(line, flush=True))
    valid = datetime.fromtimestamp(token.expires_at, timezone.utc).astimezone(settings.tz)
    print(f"OAuth2 token saved to {source.file.path} (mode 600; access token valid until {valid:%Y-%m-%d %H:%M %Z})")
    _end_login_backoff(args)
    return 0


def _end_login_backoff(args: argparse.Namespace) -> None:
    """The new grant is tried at the next poll, not after the backoff the refused one earned."""
    from mailbot.store import health
    from mailbot.store.db import transaction

    try:
        app = _app(args)
        with transaction(app.factory) as s:
            if health.reset_login_backoff(s):
                print("the next poll signs in at once (the login backoff is over)")
    except MailbotError as exc:  # e.g. no database yet: nothing to reset
        logging.getLogger("mailbot.cli").info("login backoff not reset: %s", exc)


def cmd_poll(args: argparse.Namespace) -> int:
    from mailbot.runner import poll_once

    now = _now(args.now)
    app = _app(args, secrets_needed=True)
    with _locked(app):
        result = poll_once(app, now)
    print(result.summary())
    return 1 if result.errors else 0


def cmd_run(args: argparse.Namespace) -> int:
    from mailbot.scheduler import run_forever

    app = _app(args, secrets_needed=True, migrate=True)  # as the service user, at start
    # A daemon: what startup made lives as long as the process (never scan it again); the rest of its
    # garbage is collected at the interpreter's usual pace, not run()'s relaxed one.
    gc.freeze()
    gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    with _locked(app):
        run_forever(app)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from mailbot.ops.status import format_text, gather

    status = gather(_app(args), _now(args.now))
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_text(status))
    return int(status["exit_code"])


def cmd_cases(args: argparse.Namespace) -> int:
    from mailbot.admin.views import list_cases

    return _listing(args, list_cases(_app(args), args.status), lambda r: f"{r['number']:<22} {r['status']:<20} "
                    f"{r['request_type']:<15} {r['sender']:<35} {r['created_at']}", "no cases")


def cmd_case_show(args: argparse.Namespace) -> int:
    from mailbot.admin.views import case_detail, format_case

    detail = case_detail(_app(args), args.number)
    if detail is None:
        print(f"case {args.number} not found", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(detail, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_case(detail))
    return 0


def cmd_case_new(args: argparse.Namespace) -> int:
    from mailbot.admin.hardcopy import register_hardcopy

    if not args.hardcopy:
        raise UsageError("case new: only --hardcopy (walk-in) requests can be registered from the CLI")
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            raise UsageError(f"case new: {f} is not a file")
    app = _app(args)
    number = register_hardcopy(app, name=args.name, nip=args.nip, email=args.email,
                               request_type=args.request_type, files=files, user=_decider(args),
                               now=_now(None))
    print(number)
    _flush_now(app, stream=sys.stderr)  # stdout stays just the number, for scripts
    return 0


def _decide(args: argparse.Namespace, action: str, argument: str = "") -> int:
    from mailbot.cases.decisions import CliCommand, DecisionRefused, decide_from_cli

    user = _decider(args)
    app = _app(args)
    command = CliCommand.make(action, argument, getattr(args, "password", None),
                              getattr(args, "user_id", None), getattr(args, "send_to_sender", False))
    try:
        case = decide_from_cli(app, args.number, command, user, _now(None))
    except DecisionRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(f"{case.number}: {case.status}")
    _flush_now(app)
    return 0


def _flush_now(app: App, stream: Any = None) -> None:
    """Send what a CLI command queued right away (SOP step 8 is 5 minutes), unless the daemon owns the
    lock — then the daemon sends it — or the SMTP secret is not in this shell's environment."""
    from mailbot.cases.delivery import flush_outbox
    from mailbot.domain.results import PollResult

    out = stream or sys.stdout
    try:
        app.settings.smtp_password()
        with _locked(app):
            result = PollResult()
            flush_outbox(app, _now(None), result)
            # A credentials mail accepted by SMTP completes the case (and erases the password).
        print(f"sent {result.sent} email(s)" + (f", {result.retried} will be retried" if result.retried else ""),
              file=out)
    except LockHeld:
        print("the email is queued; the running `mailbot run` sends it", file=out)
    except ConfigError as exc:
        print(f"the email is queued; the next poll sends it (cannot send now: {exc})", file=out)


def cmd_registry_import(args: argparse.Namespace) -> int:
    from mailbot.admin.registry import RegistryError, import_file, read_rows

    try:
        read_rows(Path(args.file))  # a bad file is told before anything else is opened
        user = "" if args.dry_run else _decider(args)
        app = _app(args)
        plan = import_file(app, Path(args.file), by=user, dry_run=args.dry_run, replace=args.replace)
    except RegistryError as exc:  # a bad file, not a bad config: say so
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    for change in plan.changes:  # a dry run shows everything; an import what changed what was there
        if args.dry_run or change.kind != "add":
            print(change.describe())
    if args.dry_run:
        print(f"{plan.summary()} (dry run: nothing changed; {plan.unchanged} unchanged)")
        return 0
    print(plan.summary())
    if any((c.kind == "change" and c.email_change) or c.kind == "remove" for c in plan.changes):
        print("the admins are told by email (registry_changed); the change is in the audit trail", file=sys.stderr)
    return 0


def _registry_change(args: argparse.Namespace, what: str) -> int:
    from mailbot.admin.registry import RegistryError, deactivate, remove

    try:
        user = _decider(args)
        entry = (remove if what == "remove" else deactivate)(_app(args), args.nip, by=user)
    except RegistryError as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    done = "removed" if what == "remove" else "deactivated (kept for its cases; matches no new request)"
    print(f"registry: {entry['nip']} {entry['nama']} <{entry['email']}> {done}")
    return 0


def cmd_registry_list(args: argparse.Namespace) -> int:
    from mailbot.admin.registry import list_registry

    return _listing(args, list_registry(_app(args)),
                    lambda r: f"{r['nip']}  {r['nama']:<30} {r['email']:<35} {r['user_id']:<15} {r['satker']}"
                    + ("" if r["active"] else "  [nonaktif]"))


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    from mailbot.admin.views import quarantine_list

    return _listing(args, quarantine_list(_app(args)),
                    lambda r: f"{r['id']:>6}  {r['received_at']}  {r['from_addr']:<30} {r['reason']}",
                    "quarantine is empty")


def cmd_quarantine_requeue(args: argparse.Namespace) -> int:
    from mailbot.admin.views import quarantine_requeue

    if not quarantine_requeue(_app(args), args.id):
        print(f"message {args.id} is not in quarantine", file=sys.stderr)
        return 1
    print(f"message {args.id} requeued; it is processed on the next poll")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mailbot.admin.chromium import ChromiumFailed, ChromiumMissing
    from mailbot.admin.report import (
        build_report,
        parse_csv_dialect,
        parse_formats,
        parse_month,
        write_report,
    )
    from mailbot.store.access import writable_dir

    try:
        formats = parse_formats(args.format)
        parse_month(args.month)
        parse_csv_dialect(args.csv_dialect)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    app = _app(args)
    writable_dir(Path(args.out), "report --out", create=True)  # a read-only folder: one line, exit 2
    try:
        paths = write_report(build_report(app, args.month), Path(args.out), formats, renderer=app.renderer,
                             csv_dialect=args.csv_dialect)
    except ChromiumMissing as exc:
        raise UsageError(str(exc)) from None
    except ChromiumFailed as exc:
        print(f"mailbot: report: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


def cmd_archive_export(args: argparse.Namespace) -> int:
    from mailbot.admin.archive import ArchiveError, export_case
    from mailbot.store.access import writable_dir

    app = _app(args)
    writable_dir(Path(args.dest).parent, "archive DEST's folder", create=True)
    try:
        path = export_case(app, args.number, Path(args.dest), force=args.force)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None  # exit 2: another name or --force
    except ArchiveError as exc:  # CaseNotFound included
        print(f"mailbot: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mailbot.demo.world import run_demo

    return run_demo(verbose=args.verbose)


def cmd_inbox(args: argparse.Namespace) -> int:
    from mailbot.admin.views import inbox_list

    return _listing(args, inbox_list(_app(args)), lambda r: f"{r['id']:>6}  {r['received_at']}  "
                    f"{r['from_addr'] or '-':<35} {r['subject']}", "no mail recorded as not a request")


def cmd_inbox_open(args: argparse.Namespace) -> int:
    from mailbot.intake.inbox import InboxError, open_case

    app = _app(args, secrets_needed=True)  # the case's first mails are queued: their Message-IDs are signed
    try:
        number = open_case(app, args.id, _decider(args), _now(None))
    except InboxError as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return 1
    print(number)
    _flush_now(app, stream=sys.stderr)  # stdout stays just the number, for scripts
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init": cmd_init, "check": cmd_check, "poll": cmd_poll, "run": cmd_run, "cases": cmd_cases,
    "status": cmd_status,
    "case show": cmd_case_show, "case new": cmd_case_new,
    "approve": lambda a: _decide(a, "approve"), "reject": lambda a: _decide(a, "reject", a.reason),
    "request-docs": lambda a: _decide(a, "request_docs", a.note),
    "registry import": cmd_registry_import, "registry list": cmd_registry_list,
    "registry remove": lambda a: _registry_change(a, "remove"),
    "registry deactivate": lambda a: _registry_change(a, "deactivate"),
    "quarantine list": cmd_quarantine_list, "quarantine requeue": cmd_quarantine_requeue,
    "report": cmd_report, "archive export": cmd_archive_export, "demo": cmd_demo,
    "migrate": cmd_migrate, "backup": cmd_backup, "restore": cmd_restore, "purge": cmd_purge,
    "inbox": cmd_inbox, "inbox open": cmd_inbox_open,
    "oauth login": cmd_oauth_login,
}


# Control characters (C0 but tab and newline, DEL, C1) and bidi overrides: a subject or file name from
# mail must not move the cursor, retitle the terminal or reorder what an operator reads.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_output(text: str) -> str:
    """`text` without control characters; the layout's newlines and tabs stay."""
    return _CONTROL_RE.sub("", text)


class _CleanStream:
    """A text stream that removes control characters from everything written to it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(clean_output(text))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def build_parser() -> argparse.ArgumentParser:
    return cli_parser.build_parser(HANDLERS)


def main(argv: list[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _CleanStream(out), _CleanStream(err)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # mail-parser and pypdf warn about every odd-but-handled message; our own log says what matters.
    for noisy in ("mailparser", "pypdf"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # Alembic narrates every migration step at INFO; stderr is for what the operator must act on.
    logging.getLogger("alembic").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    args.opened = []
    # What mailbot writes (database, blobs, reports, archives, backups) is for its user alone.
    umask = os.umask(0o077)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        print(f"mailbot: config error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    except LockHeld as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return 1
    except NotReady as exc:  # permissions, ownership, schema, restore target: one line naming the fix
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    except PermissionError as exc:  # what no check foresaw: still one line naming the path
        print(f"mailbot: permission denied: {exc.filename or exc}; make it writable for the user running "
              f"mailbot, or run the command as the service user (deploy/mailbot-cli)", file=sys.stderr)
        return 2
    except MailbotError as exc:  # a runtime failure a command did not report itself (backup, restore, …)
        print(f"mailbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)
        for app in args.opened:
            app.engine.dispose()


def run() -> None:
    """The `mailbot` script and `python -m mailbot`: main() in a process tuned for a short life.

    Importing SQLAlchemy & co. creates ~100 000 objects that live until the exit; at the default
    thresholds the cycle collector sweeps them again and again while they load (~25 % of a short
    command), so young objects are collected less often here (cmd_run restores the default). At the
    end all is written and closed, so gc.freeze() also spares the exit its final sweep (~0.1 s);
    atexit handlers and weakref finalizers (temp dirs, log handlers) still run."""
    gc.set_threshold(100_000, 50, 100)
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
