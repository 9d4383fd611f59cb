"""The mailbot command line (SPEC §6); each command imports only the modules it uses, so a quick one stays quick."""

from __future__ import annotations

import argparse
import gc
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailbot import version
from mailbot.config import EXAMPLE_CONFIG, ConfigError, load_settings

if TYPE_CHECKING:
    from mailbot.app import App


class UsageError(Exception):
    """Bad arguments: exit 2."""


class LockHeld(Exception):
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


def _app(args: argparse.Namespace, *, secrets_needed: bool = False) -> App:
    from mailbot.app import build_app

    settings = load_settings(args.config)
    if secrets_needed:
        settings.require_secrets()
    secret = settings.secret_key() if secrets_needed or os.environ.get(settings.security.secret_env) else b"-"
    app = build_app(settings, secret=secret)
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
    from mailbot.store.db import display_url, make_engine, migrate

    target = Path(args.config or os.environ.get("MAILBOT_CONFIG") or "config/mailbot.toml")
    if target.exists() and not args.force:
        print(f"{target} exists; keeping it (use --force to overwrite)")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
        print(f"wrote {target}: edit [office], [imap], [smtp] and [admins], then run `mailbot check`")
    settings = load_settings(target)
    migrate(make_engine(settings.database_url))
    print(f"database ready: {display_url(settings.database_url)}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from mailbot.cli_check import check

    return check(load_settings(args.config))


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

    app = _app(args, secrets_needed=True)
    with _locked(app):
        run_forever(app)
    return 0


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
                               request_type=args.request_type, files=files, user=getpass.getuser(),
                               now=_now(None))
    print(number)
    _flush_now(app, stream=sys.stderr)  # stdout stays just the number, for scripts
    return 0


def _decide(args: argparse.Namespace, action: str, argument: str = "") -> int:
    from mailbot.cases.decisions import CliCommand, DecisionRefused, decide_from_cli

    app = _app(args)
    command = CliCommand.make(action, argument, getattr(args, "password", None),
                              getattr(args, "user_id", None), getattr(args, "send_to_sender", False))
    try:
        case = decide_from_cli(app, args.number, command, getpass.getuser(), _now(None))
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
    from mailbot.admin.registry import RegistryError, import_csv

    app = _app(args)
    try:
        added, updated = import_csv(app, Path(args.file))
    except RegistryError as exc:  # a bad CSV, not a bad config: say so
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    print(f"registry: {added} added, {updated} updated")
    return 0


def cmd_registry_list(args: argparse.Namespace) -> int:
    from mailbot.admin.registry import list_registry

    return _listing(args, list_registry(_app(args)),
                    lambda r: f"{r['nip']}  {r['nama']:<30} {r['email']:<35} {r['user_id']:<15} {r['satker']}")


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
    from mailbot.admin.report import build_report, parse_formats, parse_month, write_report

    try:
        formats = parse_formats(args.format)
        parse_month(args.month)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    app = _app(args)
    for path in write_report(build_report(app, args.month), Path(args.out), formats, renderer=app.renderer):
        print(path)
    return 0


def cmd_archive_export(args: argparse.Namespace) -> int:
    from mailbot.admin.archive import ArchiveError, export_case

    app = _app(args)
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


class _VersionAction(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata scans the installed packages)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"mailbot {version()}")
        parser.exit()


# -- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mailbot", description="Email intake bot for LPSE PPK requests.")
    p.add_argument("--config", help="config file (default: $MAILBOT_CONFIG, then config/mailbot.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action=_VersionAction, nargs=0, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub, *,
            json_flag: bool = False) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help_)
        sp.set_defaults(fn=fn)
        if json_flag:
            sp.add_argument("--json", action="store_true", help="one JSON document")
        return sp

    def group(name: str, help_: str) -> Any:
        return sub.add_parser(name, help=help_).add_subparsers(dest=f"{name}_command", required=True,
                                                               metavar="SUBCOMMAND")

    sp = add("init", cmd_init, "write a commented config and create the database")
    sp.add_argument("--force", action="store_true", help="overwrite an existing config")
    add("check", cmd_check, "validate the config and connect to IMAP and SMTP")
    sp = add("poll", cmd_poll, "one cycle: fetch and process mail, run due timers, flush the outbox")
    sp.add_argument("--now", help="run timers as of this ISO instant (drills and tests)")
    add("run", cmd_run, "the daemon (scheduler, IDLE where available)")
    sp = add("cases", cmd_cases, "the register of cases", json_flag=True)
    sp.add_argument("--status", choices=["RECEIVED", "AWAITING_DOCUMENTS", "AWAITING_REVIEW", "APPROVED",
                                         "COMPLETED", "REJECTED", "EXPIRED"])
    case_sub = group("case", "one case: show, or register a walk-in request")
    sp = add("show", cmd_case_show, "events, messages, documents, findings, SLA", case_sub, json_flag=True)
    sp.add_argument("number")
    sp = add("new", cmd_case_new, "register a walk-in (hardcopy) request with scanned files", case_sub)
    sp.add_argument("--hardcopy", action="store_true", required=True)
    for option in ("--name", "--nip", "--email"):
        sp.add_argument(option, required=True)
    sp.add_argument("--request-type", default="reset_password",
                    choices=["reset_password", "user_id_info", "both"])
    sp.add_argument("files", nargs="+")
    sp = add("approve", lambda a: _decide(a, "approve"), "approve a case awaiting review")
    sp.add_argument("number")
    sp.add_argument("--password")
    sp.add_argument("--user-id")
    sp.add_argument("--send-to-sender", action="store_true",
                    help="allow credentials to the request's sender for a PPK not in the registry")
    sp = add("reject", lambda a: _decide(a, "reject", a.reason), "reject a case awaiting review")
    sp.add_argument("number")
    sp.add_argument("--reason", required=True)
    sp = add("request-docs", lambda a: _decide(a, "request_docs", a.note), "ask the PPK for more documents")
    sp.add_argument("number")
    sp.add_argument("--note", required=True)
    reg_sub = group("registry", "the PPK registry")
    sp = add("import", cmd_registry_import, "import a CSV (nama,nip,email,user_id,satker)", reg_sub)
    sp.add_argument("file")
    add("list", cmd_registry_list, "list the registry", reg_sub, json_flag=True)
    q_sub = group("quarantine", "messages that could not be processed")
    add("list", cmd_quarantine_list, "list quarantined messages with the reason", q_sub, json_flag=True)
    sp = add("requeue", cmd_quarantine_requeue, "put a quarantined message back for processing", q_sub)
    sp.add_argument("id", type=int)
    sp = add("report", cmd_report, "SOP compliance report of one month (office time zone)")
    sp.add_argument("--month", required=True, help="YYYY-MM")
    sp.add_argument("--format", default="html", help="html, csv or html,csv (default: html)")
    sp.add_argument("--out", default=".", help="directory for the report files (default: the current directory)")
    arch_sub = group("archive", "case archives (SOP step 9)")
    sp = add("export", cmd_archive_export,
             "write one case's archive: raw emails, documents, audit trail, manifest", arch_sub)
    sp.add_argument("number")
    sp.add_argument("dest", metavar="DEST.zip")
    sp.add_argument("--force", action="store_true", help="replace an existing DEST.zip")
    add("demo", cmd_demo, "self-contained run on loopback with embedded IMAP and SMTP servers")
    return p


def main(argv: list[str] | None = None) -> int:
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
    except KeyboardInterrupt:
        return 130
    finally:
        for app in args.opened:
            app.engine.dispose()


def run() -> None:
    """The `mailbot` script and `python -m mailbot`: main(), then exit. All is written and closed by then, so
    gc.freeze() spares the exit its sweep over SQLAlchemy's ~100 000 objects (~0.1 s of a 0.5 s command);
    atexit handlers and weakref finalizers (temp dirs, log handlers) still run."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
