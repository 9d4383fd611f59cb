"""The mailbot command line (SPEC §6)."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from mailbot.admin.archive import ArchiveError, export_case
from mailbot.admin.hardcopy import register_hardcopy
from mailbot.admin.registry import RegistryError, import_csv, list_registry
from mailbot.admin.report import build_report, parse_formats, parse_month, write_report
from mailbot.admin.views import (
    case_detail,
    format_case,
    list_cases,
    quarantine_list,
    quarantine_requeue,
)
from mailbot.app import build_app
from mailbot.cases.decisions import CliCommand, DecisionRefused, decide_from_cli
from mailbot.cases.delivery import flush_outbox
from mailbot.config import EXAMPLE_CONFIG, ConfigError, Settings, load_settings
from mailbot.demo.world import run_demo
from mailbot.domain.results import PollResult
from mailbot.intake.fetch import open_mailbox
from mailbot.runner import AlreadyRunning, instance_lock, poll_once
from mailbot.scheduler import run_forever
from mailbot.store.db import make_engine, migrate

log = logging.getLogger("mailbot")


class UsageError(Exception):
    """Bad arguments: exit 2."""


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


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _app(args: argparse.Namespace, *, secrets_needed: bool = False):  # type: ignore[no-untyped-def]
    settings = _settings(args)
    if secrets_needed:
        settings.require_secrets()
    secret = settings.secret_key() if secrets_needed or os.environ.get(settings.security.secret_env) else b"-"
    return build_app(settings, secret=secret)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# -- commands --------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.config or os.environ.get("MAILBOT_CONFIG") or "config/mailbot.toml")
    if target.exists() and not args.force:
        print(f"{target} exists; keeping it (use --force to overwrite)")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
        print(f"wrote {target}: edit [office], [imap], [smtp] and [admins], then run `mailbot check`")
    settings = load_settings(target)
    migrate(make_engine(settings.database_url))
    print(f"database ready: {_safe_url(settings.database_url)}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.require_secrets()
    print(f"config {settings.path}: ok")
    app = build_app(settings)
    missing = app.renderer.missing()
    if missing:
        print(f"templates: missing {', '.join(missing)}")
        return 1
    print(f"database {_safe_url(settings.database_url)}: ok")
    ok = True
    try:
        with open_mailbox(app) as mb:
            st = mb.select(settings.imap.folder)
            print(f"IMAP {settings.imap.host}:{settings.imap.port}: ok ({st.messages} message(s) in "
                  f"{settings.imap.folder}; MOVE={'yes' if mb.has('MOVE') else 'no'}, "
                  f"IDLE={'yes' if mb.has('IDLE') else 'no'})")
    except Exception as exc:  # noqa: BLE001 - report and continue with SMTP
        print(f"IMAP {settings.imap.host}:{settings.imap.port}: FAILED: {exc}{_tls_hint(exc, 'imap')}")
        ok = False
    sender = app.smtp_sender()
    try:
        sender.conn = sender._open()
        print(f"SMTP {settings.smtp.host}:{settings.smtp.port}: ok")
    except Exception as exc:  # noqa: BLE001
        print(f"SMTP {settings.smtp.host}:{settings.smtp.port}: FAILED: {exc}{_tls_hint(exc, 'smtp')}")
        ok = False
    finally:
        sender.close()
    return 0 if ok else 1


def _tls_hint(exc: Exception, section: str) -> str:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate verify failed" in str(exc):
        return f" (if the server uses an internal CA, set [{section}] ca_file to its PEM file)"
    return ""


def cmd_poll(args: argparse.Namespace) -> int:
    now = _now(args.now)
    app = _app(args, secrets_needed=True)
    with instance_lock(app):
        result = poll_once(app, now)
    print(result.summary())
    return 1 if result.errors else 0


def cmd_run(args: argparse.Namespace) -> int:
    app = _app(args, secrets_needed=True)
    with instance_lock(app):
        run_forever(app)
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    app = _app(args)
    rows = list_cases(app, args.status)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no cases")
    for r in rows:
        print(f"{r['number']:<22} {r['status']:<20} {r['request_type']:<15} {r['sender']:<35} {r['created_at']}")
    return 0


def cmd_case_show(args: argparse.Namespace) -> int:
    app = _app(args)
    detail = case_detail(app, args.number)
    if detail is None:
        print(f"case {args.number} not found", file=sys.stderr)
        return 1
    if args.json:
        _print_json(detail)
    else:
        print(format_case(detail))
    return 0


def cmd_case_new(args: argparse.Namespace) -> int:
    if not args.hardcopy:
        raise UsageError("case new: only --hardcopy (walk-in) requests can be registered from the CLI")
    app = _app(args, secrets_needed=False)
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            raise UsageError(f"case new: {f} is not a file")
    number = register_hardcopy(app, name=args.name, nip=args.nip, email=args.email,
                               request_type=args.request_type, files=files, user=getpass.getuser(),
                               now=_now(None))
    print(number)
    _flush_now(app, stream=sys.stderr)  # stdout stays just the number, for scripts
    return 0


def _decide(args: argparse.Namespace, action: str, argument: str = "") -> int:
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


def _flush_now(app, stream=None) -> None:  # type: ignore[no-untyped-def]
    """Send what a CLI command queued right away (SOP step 8 is 5 minutes), unless the daemon owns the
    lock — then the daemon sends it — or the SMTP secret is not in this shell's environment."""
    try:
        app.settings.smtp_password()
        with instance_lock(app):
            result = PollResult()
            flush_outbox(app, _now(None), result)
            # A credentials mail accepted by SMTP completes the case (and erases the password).
        print(f"sent {result.sent} email(s)" + (f", {result.retried} will be retried" if result.retried else ""),
              file=stream or sys.stdout)
    except AlreadyRunning:
        print("the email is queued; the running `mailbot run` sends it", file=stream or sys.stdout)
    except ConfigError as exc:
        print(f"the email is queued; the next poll sends it (cannot send now: {exc})", file=stream or sys.stdout)


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, "approve")


def cmd_reject(args: argparse.Namespace) -> int:
    return _decide(args, "reject", args.reason)


def cmd_request_docs(args: argparse.Namespace) -> int:
    return _decide(args, "request_docs", args.note)


def cmd_registry_import(args: argparse.Namespace) -> int:
    app = _app(args)
    added, updated = import_csv(app, Path(args.file))
    print(f"registry: {added} added, {updated} updated")
    return 0


def cmd_registry_list(args: argparse.Namespace) -> int:
    app = _app(args)
    rows = list_registry(app)
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"{r['nip']}  {r['nama']:<30} {r['email']:<35} {r['user_id']:<15} {r['satker']}")
    return 0


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    app = _app(args)
    rows = quarantine_list(app)
    if args.json:
        _print_json(rows)
    else:
        if not rows:
            print("quarantine is empty")
        for r in rows:
            print(f"{r['id']:>6}  {r['received_at']}  {r['from_addr']:<30} {r['reason']}")
    return 0


def cmd_quarantine_requeue(args: argparse.Namespace) -> int:
    app = _app(args)
    if not quarantine_requeue(app, args.id):
        print(f"message {args.id} is not in quarantine", file=sys.stderr)
        return 1
    print(f"message {args.id} requeued; it is processed on the next poll")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    try:
        formats = parse_formats(args.format)
        parse_month(args.month)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    report = build_report(_app(args), args.month)
    for path in write_report(report, Path(args.out), formats):
        print(path)
    return 0


def cmd_archive_export(args: argparse.Namespace) -> int:
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
    return run_demo(verbose=args.verbose)


# -- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mailbot", description="Email intake bot for LPSE PPK requests.")
    p.add_argument("--config", help="config file (default: $MAILBOT_CONFIG, then config/mailbot.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str,
            parent: Any = sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help_)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("init", cmd_init, "write a commented config and create the database")
    sp.add_argument("--force", action="store_true", help="overwrite an existing config")
    add("check", cmd_check, "validate the config and connect to IMAP and SMTP")
    sp = add("poll", cmd_poll, "one cycle: fetch and process mail, run due timers, flush the outbox")
    sp.add_argument("--now", help="run timers as of this ISO instant (drills and tests)")
    add("run", cmd_run, "the daemon (scheduler, IDLE where available)")
    sp = add("cases", cmd_cases, "the register of cases")
    sp.add_argument("--status", choices=["RECEIVED", "AWAITING_DOCUMENTS", "AWAITING_REVIEW", "APPROVED",
                                         "COMPLETED", "REJECTED", "EXPIRED"])
    sp.add_argument("--json", action="store_true")
    case = sub.add_parser("case", help="one case: show, or register a walk-in request")
    case_sub = case.add_subparsers(dest="case_command", required=True, metavar="SUBCOMMAND")
    sp = add("show", cmd_case_show, "events, messages, documents, findings, SLA", case_sub)
    sp.add_argument("number")
    sp.add_argument("--json", action="store_true")
    sp = add("new", cmd_case_new, "register a walk-in (hardcopy) request with scanned files", case_sub)
    sp.add_argument("--hardcopy", action="store_true", required=True)
    sp.add_argument("--name", required=True)
    sp.add_argument("--nip", required=True)
    sp.add_argument("--email", required=True)
    sp.add_argument("--request-type", default="reset_password",
                    choices=["reset_password", "user_id_info", "both"])
    sp.add_argument("files", nargs="+")
    sp = add("approve", cmd_approve, "approve a case awaiting review")
    sp.add_argument("number")
    sp.add_argument("--password")
    sp.add_argument("--user-id")
    sp.add_argument("--send-to-sender", action="store_true",
                    help="allow credentials to the request's sender for a PPK not in the registry")
    sp = add("reject", cmd_reject, "reject a case awaiting review")
    sp.add_argument("number")
    sp.add_argument("--reason", required=True)
    sp = add("request-docs", cmd_request_docs, "ask the PPK for more documents")
    sp.add_argument("number")
    sp.add_argument("--note", required=True)
    reg = sub.add_parser("registry", help="the PPK registry")
    reg_sub = reg.add_subparsers(dest="registry_command", required=True, metavar="SUBCOMMAND")
    sp = add("import", cmd_registry_import, "import a CSV (nama,nip,email,user_id,satker)", reg_sub)
    sp.add_argument("file")
    sp = add("list", cmd_registry_list, "list the registry", reg_sub)
    sp.add_argument("--json", action="store_true")
    q = sub.add_parser("quarantine", help="messages that could not be processed")
    q_sub = q.add_subparsers(dest="quarantine_command", required=True, metavar="SUBCOMMAND")
    sp = add("list", cmd_quarantine_list, "list quarantined messages with the reason", q_sub)
    sp.add_argument("--json", action="store_true")
    sp = add("requeue", cmd_quarantine_requeue, "put a quarantined message back for processing", q_sub)
    sp.add_argument("id", type=int)
    sp = add("report", cmd_report, "SOP compliance report of one month (office time zone)")
    sp.add_argument("--month", required=True, help="YYYY-MM")
    sp.add_argument("--format", default="html", help="html, csv or html,csv (default: html)")
    sp.add_argument("--out", default=".", help="directory for the report files (default: the current directory)")
    arch = sub.add_parser("archive", help="case archives (SOP step 9)")
    arch_sub = arch.add_subparsers(dest="archive_command", required=True, metavar="SUBCOMMAND")
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
    try:
        return args.fn(args)
    except RegistryError as exc:  # a bad CSV, not a bad config: say so
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"mailbot: config error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return 2
    except AlreadyRunning as exc:
        print(f"mailbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
