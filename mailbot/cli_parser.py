"""The command line's grammar (SPEC §6): every command with its arguments and help; cli.py does the work."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from mailbot import version


class _VersionAction(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata scans the installed packages)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"mailbot {version()}")
        parser.exit()


def build_parser(handlers: Mapping[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """The parser; each command's namespace carries `fn`, its handler, named in `handlers` by the
    command's words ("init", "case show", "registry import", …: every command must have one)."""
    p = argparse.ArgumentParser(prog="mailbot", description="Email intake bot for LPSE PPK requests.")
    p.add_argument("--config", help="config file (default: $MAILBOT_CONFIG, then config/mailbot.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action=_VersionAction, nargs=0, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    groups: dict[str, Any] = {"": sub}

    def group(name: str, help_: str) -> None:
        groups[name] = sub.add_parser(name, help=help_).add_subparsers(dest=f"{name}_command", required=True,
                                                                       metavar="SUBCOMMAND")

    def add(words: str, help_: str, *, json_flag: bool = False) -> argparse.ArgumentParser:
        """The parser of the command `words` ("cases", "case show"), its handler set as `fn`."""
        parent, _, name = words.rpartition(" ")
        sp = groups[parent].add_parser(name, help=help_)
        sp.set_defaults(fn=handlers[words])
        if json_flag:
            sp.add_argument("--json", action="store_true", help="one JSON document")
        return sp

    sp = add("init", "write a commented config, data_dir, the environment file with a new secret, the database")
    sp.add_argument("--force", action="store_true", help="overwrite an existing config")
    add("check", "validate the config and connect to IMAP and SMTP")
    sp = add("poll", "one cycle: fetch and process mail, run due timers, flush the outbox")
    sp.add_argument("--now", help="run timers as of this ISO instant (drills and tests)")
    add("run", "the daemon (scheduler, IDLE where available)")
    sp = add("status", "health for people and monitors: exit 0 OK, 1 warning, 2 critical", json_flag=True)
    sp.add_argument("--now", help="judge ages as of this ISO instant (drills and tests)")
    sp = add("cases", "the register of cases", json_flag=True)
    sp.add_argument("--status", choices=["RECEIVED", "AWAITING_DOCUMENTS", "AWAITING_REVIEW", "APPROVED",
                                         "COMPLETED", "REJECTED", "EXPIRED"])
    group("case", "one case: show, or register a walk-in request")
    sp = add("case show", "events, messages, documents, findings, SLA", json_flag=True)
    sp.add_argument("number")
    sp = add("case new", "register a walk-in (hardcopy) request with scanned files")
    sp.add_argument("--hardcopy", action="store_true", required=True)
    for option in ("--name", "--nip", "--email"):
        sp.add_argument(option, required=True)
    sp.add_argument("--request-type", default="reset_password",
                    choices=["reset_password", "user_id_info", "both"])
    sp.add_argument("files", nargs="+")
    sp.add_argument("--by", metavar="NAME", help="who decides (default: $SUDO_USER, then the login; never root)")
    sp = add("approve", "approve a case awaiting review")
    sp.add_argument("number")
    sp.add_argument("--password")
    sp.add_argument("--user-id")
    sp.add_argument("--send-to-sender", action="store_true",
                    help="allow credentials to the request's sender for a PPK not in the registry")
    sp.add_argument("--by", metavar="NAME", help="who decides (default: $SUDO_USER, then the login; never root)")
    sp = add("reject", "reject a case awaiting review")
    sp.add_argument("number")
    sp.add_argument("--reason", required=True)
    sp.add_argument("--by", metavar="NAME", help="who decides (default: $SUDO_USER, then the login; never root)")
    sp = add("request-docs", "ask the PPK for more documents")
    sp.add_argument("number")
    sp.add_argument("--note", required=True)
    sp.add_argument("--by", metavar="NAME", help="who decides (default: $SUDO_USER, then the login; never root)")
    group("registry", "the PPK registry")
    sp = add("registry import", "import a CSV or .xlsx (nama,nip,email,user_id,satker)")
    sp.add_argument("file")
    sp.add_argument("--dry-run", action="store_true", help="print the adds, changes and removals; change nothing")
    sp.add_argument("--replace", action="store_true", help="deactivate active PPKs that are not in the file")
    sp.add_argument("--by", metavar="NAME", help="who changes the registry (default: $SUDO_USER, then the login)")
    for words, help_ in (("registry remove", "delete a PPK no case names"),
                         ("registry deactivate", "keep a PPK for its cases; match no new request")):
        sp = add(words, help_)
        sp.add_argument("nip")
        sp.add_argument("--by", metavar="NAME", help="who changes the registry (default: $SUDO_USER, then the login)")
    add("registry list", "list the registry", json_flag=True)
    group("quarantine", "messages that could not be processed")
    add("quarantine list", "list quarantined messages with the reason", json_flag=True)
    sp = add("quarantine requeue", "put a quarantined message back for processing")
    sp.add_argument("id", type=int)
    sp = add("report", "SOP compliance report of one month (office time zone)")
    sp.add_argument("--month", required=True, help="YYYY-MM")
    sp.add_argument("--format", default="html", help="html, csv, pdf or a list such as html,csv,pdf (default: html; "
                    "pdf needs headless Chromium)")
    sp.add_argument("--csv-dialect", default="semicolon", choices=["semicolon", "comma"],
                    help="semicolon: ';' and decimal comma, as Excel opens it in Indonesia (default); comma: ','")
    sp.add_argument("--out", default=".", help="directory for the report files (default: the current directory)")
    group("archive", "case archives (SOP step 9)")
    sp = add("archive export", "write one case's archive: raw emails, documents, audit trail, manifest")
    sp.add_argument("number")
    sp.add_argument("dest", metavar="DEST.zip")
    sp.add_argument("--force", action="store_true", help="replace an existing DEST.zip")
    add("demo", "self-contained run on loopback with embedded IMAP and SMTP servers")
    add("migrate", "upgrade the database to this mailbot's schema (back up first)")
    sp = add("backup", "consistent backup of the database and the blob store, with a SHA-256 manifest")
    sp.add_argument("dest", metavar="DEST", help="a new (or empty) folder")
    sp = add("restore", "verify a backup and restore it into an empty data_dir and database")
    sp.add_argument("src", metavar="SRC", help="a folder written by `mailbot backup`")
    sp = add("purge", "retention: delete the personal data of cases closed more than storage.retention_days ago")
    sp.add_argument("--dry-run", action="store_true", help="only list what would be purged")
    sp.add_argument("--now", help="purge as of this ISO instant (drills and tests)")
    group("oauth", "OAuth2 sign-in of the mailbox (Microsoft 365, Google)")
    add("oauth login", "obtain the first token with the device-code flow (open a URL, enter a code)")
    sp = add("inbox", "mail recorded as no request (not_a_request): id, date, sender, subject", json_flag=True)
    groups["inbox"] = sp.add_subparsers(dest="inbox_command", required=False, metavar="SUBCOMMAND")
    sp = add("inbox open", "open a case from a message recorded as no request, as if it had been one")
    sp.add_argument("id", type=int)
    sp.add_argument("--by", metavar="NAME", help="who opens it (default: $SUDO_USER, then the login; never root)")
    return p
