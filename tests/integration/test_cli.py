"""The `mailbot` command line against real IMAP and SMTP servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mailbot.cli import main
from tests.support.bot import Bot
from tests.support.config import write_config
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import ADMIN, PPK_A, PPK_B, request_email

MAILBOT = Path(sys.executable).parent / "mailbot"
STATES = {"RECEIVED", "AWAITING_DOCUMENTS", "AWAITING_REVIEW", "APPROVED", "COMPLETED", "REJECTED", "EXPIRED"}
A_NAME, A_NIP, A_EMAIL, A_USER_ID, _ = PPK_A
B_NAME, B_NIP, B_EMAIL, _, _ = PPK_B


class Cli:
    """`mailbot --config <the bot's config> …` run in-process, with what it printed."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = main(["--config", str(self.config), *argv])
        out, err = self.capsys.readouterr()
        return rc, out, err

    def json(self, *argv: str):  # type: ignore[no-untyped-def]
        rc, out, err = self(*argv, "--json")
        assert rc == 0, err
        return json.loads(out)

    def ok(self, *argv: str) -> str:
        rc, out, err = self(*argv)
        assert rc == 0, (out, err)
        return out


@pytest.fixture
def cli(any_bot: Bot, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("SUDO_USER", "petugas")  # a person runs `sudo mailbot …` (never "root" as decider)
    return Cli(any_bot.workdir / "mailbot.toml", capsys)


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    return lines[0]


def complete_request(name: str = A_NAME, nip: str = A_NIP, email: str = A_EMAIL) -> bytes:
    return request_email(email, name, "Permohonan reset password SPSE", f"Dengan hormat, mohon reset password. NIP. {nip}",
                         [("Surat Permohonan.pdf", sample_request_letter(name, nip)),
                          ("SK PPK.pdf", sample_sk(name, nip))])


def letter_only() -> bytes:
    return request_email(B_EMAIL, B_NAME, "Permohonan informasi user ID SPSE", f"Mohon informasi user ID. NIP. {B_NIP}",
                         [("surat_permohonan.pdf", sample_request_letter(B_NAME, B_NIP, "informasi user ID"))])


def review_case(bot: Bot, cli: Cli) -> str:
    """One complete request polled through the CLI; returns its number (AWAITING_REVIEW)."""
    bot.append(complete_request())
    cli.ok("poll")
    [case] = cli.json("cases")
    assert case["status"] == "AWAITING_REVIEW"
    return case["number"]


# -- check -----------------------------------------------------------------------------------------
def test_check_ok_against_real_servers(bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    """Scenario: `mailbot check` on a working setup → exit 0, ok for config, database, IMAP and SMTP."""
    cli = Cli(bot.workdir / "mailbot.toml", capsys)
    rc, out, err = cli("check")
    assert rc == 0, out + err
    lines = out.splitlines()
    assert any(line.startswith("config ") and line.endswith(": ok") for line in lines)
    assert any(line.startswith("database sqlite:///") and line.endswith(": ok") for line in lines)
    assert f"IMAP {bot.imap.host}:{bot.imap.port}: ok (0 message(s) in INBOX;" in out
    assert f"SMTP {bot.smtp.host}:{bot.smtp.port}: ok" in lines
    assert "FAILED" not in out


def test_check_reports_smtp_down(any_bot: Bot, cli: Cli) -> None:
    """Scenario: the SMTP server refuses connections → exit 1, IMAP still ok, 'SMTP … FAILED'."""
    any_bot.smtp.set_down(True)
    rc, out, _err = cli("check")
    assert rc == 1
    assert f"IMAP {any_bot.imap.host}:{any_bot.imap.port}: ok" in out
    assert f"SMTP {any_bot.smtp.host}:{any_bot.smtp.port}: FAILED" in out


def test_check_reports_wrong_imap_password(any_bot: Bot, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: a wrong IMAP password → exit 1, 'IMAP … FAILED', the password not printed."""
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "wrong-Passw0rd-xyz")
    rc, out, err = cli("check")
    assert rc == 1
    assert f"IMAP {any_bot.imap.host}:{any_bot.imap.port}: FAILED" in out
    assert f"SMTP {any_bot.smtp.host}:{any_bot.smtp.port}: ok" in out
    assert "wrong-Passw0rd-xyz" not in out + err


# -- registry --------------------------------------------------------------------------------------
@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A CLI on a fresh SQLite database (`mailbot migrate` made its schema); the servers are never contacted."""
    monkeypatch.setenv("MAILBOT_SECRET", "s")
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "p")
    monkeypatch.setenv("SUDO_USER", "petugas")
    cli = Cli(write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2), capsys)
    cli.ok("migrate")
    return cli


def test_registry_import_and_list(offline: Cli, tmp_path: Path) -> None:
    """Scenario: import a comma CSV, then a semicolon CSV that updates one PPK and adds one → list --json."""
    first = tmp_path / "ppk.csv"
    first.write_text("nama,nip,email,user_id,satker\n"
                     f"{A_NAME},{A_NIP},{A_EMAIL},{A_USER_ID},Dinas PUPR\n"
                     f'{B_NAME},"19850722 201001 2 003",SITI.Rahma@Dinkes-demo.go.id,siti.ppk,"Dinas Kesehatan, UPT"\n',
                     encoding="utf-8")
    assert offline.ok("registry", "import", str(first)).strip() == "registry: 2 added, 0 updated"
    rows = offline.json("registry", "list")
    assert rows == [
        {"nama": A_NAME, "nip": A_NIP, "email": A_EMAIL, "user_id": A_USER_ID, "satker": "Dinas PUPR", "active": True},
        {"nama": B_NAME, "nip": B_NIP, "email": B_EMAIL, "user_id": "siti.ppk", "satker": "Dinas Kesehatan, UPT",
         "active": True},
    ]
    second = tmp_path / "ppk-excel.csv"  # Excel in an Indonesian locale saves with ';' and a BOM
    second.write_text("\ufeffnama;nip;email;user_id;satker\r\n"
                      f"{A_NAME};{A_NIP};budi.baru@pupr-demo.go.id;budi.ppk2;Dinas PUPR\r\n"
                      "Andi Wijaya;199001012015031004;andi@bpbd-demo.go.id;andi.ppk;BPBD\r\n", encoding="utf-8")
    out = offline.ok("registry", "import", "--by", "rahmat", str(second)).strip().splitlines()
    assert out[-1] == "registry: 1 added, 1 updated"
    assert any(line.startswith(f"change  {A_NIP}") and "budi.baru@pupr-demo.go.id" in line for line in out)
    by_nip = {r["nip"]: r for r in offline.json("registry", "list")}
    assert len(by_nip) == 3
    assert by_nip[A_NIP]["email"] == "budi.baru@pupr-demo.go.id" and by_nip[A_NIP]["user_id"] == "budi.ppk2"
    assert by_nip["199001012015031004"]["nama"] == "Andi Wijaya"
    text = offline.ok("registry", "list")
    assert "Andi Wijaya" in text and "199001012015031004" in text


def test_registry_bad_header_exits_2(offline: Cli, tmp_path: Path) -> None:
    """Scenario: a CSV with the wrong header → exit 2, one line saying which header is expected; nothing imported."""
    f = tmp_path / "ppk.csv"
    f.write_text(f"name,nip,mail\n{A_NAME},{A_NIP},{A_EMAIL}\n", encoding="utf-8")
    rc, out, err = offline("registry", "import", str(f))
    assert rc == 2
    line = one_line(err)
    assert str(f) in line and "nama,nip,email,user_id,satker" in line and "name,nip,mail" in line
    assert offline.json("registry", "list") == []


def test_registry_bad_nip_names_the_line_and_imports_nothing(offline: Cli, tmp_path: Path) -> None:
    """Scenario: one short NIP on line 4 (after a blank line) → exit 2 naming f.csv:4; the file is all-or-nothing."""
    f = tmp_path / "ppk.csv"
    f.write_text("nama,nip,email,user_id,satker\n"
                 f"{A_NAME},{A_NIP},{A_EMAIL},{A_USER_ID},Dinas PUPR\n"
                 "\n"
                 f"{B_NAME},19850722201001,{B_EMAIL},siti.ppk,Dinkes\n", encoding="utf-8")
    rc, _out, err = offline("registry", "import", str(f))
    assert rc == 2
    line = one_line(err)
    assert f"{f}:4:" in line and "19850722201001" in line
    assert offline.json("registry", "list") == []


def test_executable_registry_error_on_fresh_database_is_one_line(tmp_path: Path) -> None:
    """Scenario: the first command on a new install is a bad import → stderr is the one error line, no log noise."""
    cfg = write_config(tmp_path, "127.0.0.1", 1, "lpse", "127.0.0.1", 2)
    f = tmp_path / "ppk.csv"
    f.write_text("nama,nip\nBudi,1\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    subprocess.run([str(MAILBOT), "--config", str(cfg), "migrate"], capture_output=True, timeout=60, env=env, check=True)
    p = subprocess.run([str(MAILBOT), "--config", str(cfg), "registry", "import", str(f)],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 2
    assert p.stderr.splitlines() == [f"mailbot: registry: {f}:1: header must be nama,nip,email,user_id,satker "
                                     f"(got nama,nip)"]


def test_registry_missing_file_exits_2(offline: Cli, tmp_path: Path) -> None:
    """Scenario: a mistyped file name → exit 2, one line with the path."""
    rc, _out, err = offline("registry", "import", str(tmp_path / "nope.csv"))
    assert rc == 2 and "nope.csv" in one_line(err)


# -- poll, cases, case show ----------------------------------------------------------------------
def test_poll_then_cases_and_case_show(any_bot: Bot, cli: Cli) -> None:
    """Scenario: a complete and an incomplete request polled by the CLI → the register and one case in full."""
    any_bot.append(complete_request())
    any_bot.append(letter_only())
    out = cli.ok("poll")
    assert "fetched=2 processed=2" in out and "sent=3" in out
    # Mail to different people may arrive in any order (several SMTP connections); per person it is queued order.
    assert sorted(m.header("X-Mailbot-Template") for m in any_bot.sent()) == ["ack", "incomplete", "review_request"]

    cases = cli.json("cases")
    assert isinstance(cases, list) and len(cases) == 2
    for c in cases:
        assert {"number", "status", "request_type", "sender", "created_at"} <= set(c)
        assert c["status"] in STATES
    review, docs = cases
    assert (review["status"], review["request_type"], review["sender"]) == ("AWAITING_REVIEW", "reset_password",
                                                                           A_EMAIL)
    assert (docs["status"], docs["sender"]) == ("AWAITING_DOCUMENTS", B_EMAIL)
    assert review["number"].startswith("LPSE-DEMO-") and review["created_at"]

    assert [c["number"] for c in cli.json("cases", "--status", "AWAITING_REVIEW")] == [review["number"]]
    assert [c["number"] for c in cli.json("cases", "--status", "AWAITING_DOCUMENTS")] == [docs["number"]]
    assert cli.json("cases", "--status", "COMPLETED") == []
    text = cli.ok("cases")
    assert review["number"] in text and "AWAITING_REVIEW" in text and B_EMAIL in text

    d = cli.json("case", "show", review["number"])
    assert {"number", "status", "events", "messages", "documents", "findings", "sla"} <= set(d)
    assert d["number"] == review["number"] and d["status"] == "AWAITING_REVIEW" and d["channel"] == "email"
    assert sorted(doc["filename"] for doc in d["documents"]) == ["SK PPK.pdf", "Surat Permohonan.pdf"]
    for doc in d["documents"]:
        assert {"filename", "kind", "size", "sha256"} <= set(doc)
        assert doc["size"] > 0 and len(doc["sha256"]) == 64
    assert {doc["kind"] for doc in d["documents"]} == {"surat_permohonan", "sk_pengangkatan"}
    assert {f["code"]: f["ok"] for f in d["findings"]}["nip_registry"] is True
    assert [(m["direction"], m.get("template"), m["status"]) for m in d["messages"]] == [
        ("in", None, "processed"), ("out", "ack", "sent"), ("out", "review_request", "sent")]
    assert [e["to_status"] for e in d["events"] if e["to_status"]][-1] == "AWAITING_REVIEW"
    assert [s["step"] for s in d["sla"]] == ["step2_completeness"]
    assert d["sla"][0]["standard_minutes"] == 5

    text = cli.ok("case", "show", review["number"])
    assert text.startswith(f"{review['number']}  AWAITING_REVIEW")
    assert "Documents:" in text and "Surat Permohonan.pdf [surat_permohonan]" in text
    assert "Findings:" in text and "✔" in text
    assert "SLA (working minutes vs standard):" in text and "step2_completeness" in text and "/ 5 min" in text
    assert f"PPK: {A_NAME} NIP {A_NIP}" in text


def test_case_show_unknown_case_exits_1(cli: Cli) -> None:
    """Scenario: `case show` of a number that does not exist → exit 1 and one line."""
    rc, out, err = cli("case", "show", "LPSE-DEMO-2026-99999")
    assert rc == 1 and out == ""
    assert "LPSE-DEMO-2026-99999 not found" in one_line(err)
    assert cli.ok("cases").strip() == "no cases"


def test_poll_now_option(any_bot: Bot, cli: Cli) -> None:
    """Scenario: `poll --now` with an offset is accepted and drives timers; garbage or no offset → exit 2."""
    any_bot.append(letter_only())
    rc, _out, err = cli("poll", "--now", "2026-12-04T10:00+07:00")  # a Friday
    assert rc == 0, err
    [case] = cli.json("cases")
    assert case["status"] == "AWAITING_DOCUMENTS" and case["created_at"].startswith("2026-12-04T03:00")
    cli.ok("poll", "--now", "2026-12-08T10:30+07:00")  # two working days later: the first reminder
    assert len(any_bot.sent("reminder_documents")) == 1

    rc, out, err = cli("poll", "--now", "garbage")
    assert rc == 2 and out == ""
    assert "--now" in one_line(err) and "'garbage'" in err
    rc, _out, err = cli("poll", "--now", "2026-12-08T10:00")
    assert rc == 2 and "time zone offset" in one_line(err)
    assert len(any_bot.sent("reminder_documents")) == 1


# -- decisions from the terminal ------------------------------------------------------------------
def test_cli_approve_sends_credentials_at_once(any_bot: Bot, cli: Cli) -> None:
    """Scenario: `approve N --password P` → credentials sent right away to the registry address → COMPLETED."""
    number = review_case(any_bot, cli)
    out = cli.ok("approve", number, "--password", "Baru#2026xyz")
    assert out.splitlines()[0] == f"{number}: APPROVED" and "sent 1 email(s)" in out
    creds = any_bot.sent("credentials")
    assert [m.rcpt_tos for m in creds] == [[A_EMAIL]]  # the registry address
    assert "Baru#2026xyz" in creds[0].message.get_body(("plain",)).get_content()
    assert creds[0].header("X-Mailbot-Case") == number
    d = cli.json("case", "show", number)
    assert d["status"] == "COMPLETED" and d["decided_by"]
    assert "Baru#2026xyz" not in json.dumps(d)
    assert any(e["actor"].startswith("cli:") and e["to_status"] == "APPROVED" for e in d["events"])
    assert any_bot.sent("admin_confirmation") == []  # the admin acted at the terminal, not by mail
    assert "sent=0" in cli.ok("poll")  # nothing left to send twice


def test_cli_approve_while_daemon_holds_lock_queues(any_bot: Bot, cli: Cli) -> None:
    """Scenario: the daemon owns the lock; `approve` only queues, and the daemon's next flush sends it."""
    from mailbot.runner import instance_lock

    number = review_case(any_bot, cli)
    with instance_lock(any_bot.app):
        out = cli.ok("approve", number)
    assert "queued" in out and any_bot.sent("credentials") == []
    assert "sent=1" in cli.ok("poll")
    assert [m.rcpt_tos for m in any_bot.sent("credentials")] == [[A_EMAIL]]


def test_cli_reject_with_reason(any_bot: Bot, cli: Cli) -> None:
    """Scenario: `reject N --reason R` → REJECTED; the rejection with R goes to the PPK at once."""
    number = review_case(any_bot, cli)
    assert cli.ok("reject", number, "--reason", "NIP pada SK tidak sesuai").splitlines()[0] == f"{number}: REJECTED"
    [rejected] = any_bot.sent("rejected")
    assert rejected.rcpt_tos == [A_EMAIL]
    assert "NIP pada SK tidak sesuai" in rejected.message.get_body(("plain",)).get_content()
    assert cli.json("case", "show", number)["status"] == "REJECTED"
    assert any_bot.sent("credentials") == []


def test_a_decision_without_the_secret_exits_2_naming_the_key_and_changes_nothing(
        any_bot: Bot, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario: the operator runs `reject` in a shell without MAILBOT_SECRET: one line naming
    security.secret_env, exit 2, the case untouched and no mail (there is no placeholder key to sign
    with); reading commands still work without it."""
    number = review_case(any_bot, cli)
    monkeypatch.delenv("MAILBOT_SECRET")
    rc, out, err = cli("reject", number, "--reason", "NIP pada SK tidak sesuai")
    assert rc == 2
    assert "security.secret_env" in one_line(err) and "MAILBOT_SECRET" in err
    assert cli.json("case", "show", number)["status"] == "AWAITING_REVIEW"
    assert any_bot.sent("rejected") == []


def test_cli_request_docs_with_note(any_bot: Bot, cli: Cli) -> None:
    """Scenario: `request-docs N --note T` → AWAITING_DOCUMENTS; 'incomplete' with T goes out at once."""
    number = review_case(any_bot, cli)
    assert cli.ok("request-docs", number, "--note", "SK yang sudah ditandatangani").splitlines()[0] == \
        f"{number}: AWAITING_DOCUMENTS"
    [inc] = any_bot.sent("incomplete")
    assert inc.rcpt_tos == [A_EMAIL]
    assert "SK yang sudah ditandatangani" in inc.message.get_body(("plain",)).get_content()
    assert [c["status"] for c in cli.json("cases")] == ["AWAITING_DOCUMENTS"]


def test_cli_decision_refused_when_already_decided(any_bot: Bot, cli: Cli) -> None:
    """Scenario: deciding a case twice → exit 1, one line, nothing queued. (A case still waiting for
    documents can be decided: tests/integration/test_admin_judges.py.)"""
    number = review_case(any_bot, cli)
    cli.ok("reject", number, "--reason", "tidak sesuai")
    rc, out, err = cli("approve", number)
    assert rc == 1 and out == ""
    line = one_line(err)
    assert line.startswith("refused: ") and "REJECTED" in line
    cli.ok("poll")
    assert len(any_bot.sent("rejected")) == 1 and any_bot.sent("credentials") == []
    assert {c["number"]: c["status"] for c in cli.json("cases")} == {number: "REJECTED"}


def test_cli_decision_on_unknown_case_exits_1(cli: Cli) -> None:
    """Scenario: a mistyped case number → exit 1 with one line naming it."""
    for argv in (("approve", "LPSE-DEMO-2026-00077"), ("reject", "LPSE-DEMO-2026-00077", "--reason", "x"),
                 ("request-docs", "LPSE-DEMO-2026-00077", "--note", "x")):
        rc, out, err = cli(*argv)
        assert rc == 1 and out == ""
        assert "LPSE-DEMO-2026-00077" in one_line(err) and "not found" in err


# -- walk-in (hardcopy) requests -----------------------------------------------------------------
def _pdfs(tmp_path: Path) -> tuple[Path, Path]:
    letter, sk = tmp_path / "scan-surat-permohonan.pdf", tmp_path / "scan-sk-ppk.pdf"
    letter.write_bytes(sample_request_letter(A_NAME, A_NIP))
    sk.write_bytes(sample_sk(A_NAME, A_NIP))
    return letter, sk


def test_case_new_hardcopy_complete_goes_to_review(any_bot: Bot, cli: Cli, tmp_path: Path) -> None:
    """Scenario: a walk-in PPK hands in letter + SK → hardcopy case AWAITING_REVIEW, review_request sent."""
    letter, sk = _pdfs(tmp_path)
    out = cli.ok("case", "new", "--hardcopy", "--name", A_NAME, "--nip", A_NIP, "--email", A_EMAIL,
                 str(letter), str(sk))
    number = out.strip()
    d = cli.json("case", "show", number)
    assert (d["channel"], d["status"], d["sender"]) == ("hardcopy", "AWAITING_REVIEW", A_EMAIL)
    assert sorted(doc["kind"] for doc in d["documents"]) == ["sk_pengangkatan", "surat_permohonan"]
    assert ("review_request", "sent", [ADMIN]) in [(m["template"], m["status"], m["to"])
                                                  for m in d["messages"] if m["direction"] == "out"]
    assert any(e["actor"].startswith("cli:") for e in d["events"])
    assert [m.rcpt_tos for m in any_bot.sent("review_request")] == [[ADMIN]]
    assert any_bot.sent("review_request")[0].header("X-Mailbot-Case") == number


def test_case_new_hardcopy_one_file_goes_to_review(any_bot: Bot, cli: Cli, tmp_path: Path) -> None:
    """Scenario: a walk-in PPK brings only the letter → complete by the admin's word (the admin saw the
    originals): AWAITING_REVIEW, the review_request to the admins, no 'incomplete' mail."""
    letter, _sk = _pdfs(tmp_path)
    number = cli.ok("case", "new", "--hardcopy", "--name", A_NAME, "--nip", A_NIP, "--email", A_EMAIL,
                    str(letter)).strip()
    d = cli.json("case", "show", number)
    assert (d["channel"], d["status"]) == ("hardcopy", "AWAITING_REVIEW")
    assert any_bot.sent("incomplete") == []
    assert [m.rcpt_tos for m in any_bot.sent("review_request")] == [[ADMIN]]


def test_case_new_missing_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    """Scenario: a scan path that does not exist → exit 2 naming it, no case created."""
    rc, _out, err = cli("case", "new", "--hardcopy", "--name", A_NAME, "--nip", A_NIP, "--email", A_EMAIL,
                        str(tmp_path / "missing.pdf"))
    assert rc == 2 and "missing.pdf" in one_line(err)
    assert cli.json("cases") == []


# -- the real executable: run, lock, demo ----------------------------------------------------------
def _spawn(bot: Bot, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(MAILBOT), "--config", str(bot.workdir / "mailbot.toml"), *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
                            start_new_session=True)


def test_run_daemon_processes_mail_holds_lock_and_stops_on_sigterm(any_bot: Bot, capsys) -> None:  # type: ignore[no-untyped-def]
    """Scenario: `mailbot run` picks up waiting mail, blocks a second poller, and exits 0 on SIGTERM."""
    any_bot.append(complete_request())
    proc = _spawn(any_bot, "run")
    try:
        mails = any_bot.smtp.wait_for(2, timeout=30)
        assert sorted(m.header("X-Mailbot-Template") for m in mails) == ["ack", "review_request"]
        second = subprocess.run([str(MAILBOT), "--config", str(any_bot.workdir / "mailbot.toml"), "poll"],
                                capture_output=True, text=True, timeout=60, env=dict(os.environ))
        assert second.returncode == 1
        [line] = second.stderr.splitlines()
        assert line.startswith("mailbot: another mailbot holds ") and "mailbot.lock" in line
        # In-process too: same message, same exit code.
        cli = Cli(any_bot.workdir / "mailbot.toml", capsys)
        rc, _out, err = cli("poll")
        assert rc == 1 and "another mailbot holds" in one_line(err)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _out, err = proc.communicate()
    assert "Traceback" not in err
    assert "mailbot stopped" in err
    # The lock is released: a poll now runs and finds nothing new.
    after = subprocess.run([str(MAILBOT), "--config", str(any_bot.workdir / "mailbot.toml"), "poll"],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert after.returncode == 0, after.stderr
    assert "fetched=0" in after.stdout and len(any_bot.smtp.messages) == 2


def test_demo_executable(tmp_path: Path) -> None:
    """Scenario: `mailbot demo` on a fresh machine → exit 0 within 30 s, the six SOP steps printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    p = subprocess.run([str(MAILBOT), "demo"], capture_output=True, text=True, timeout=30, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for step in ("1. PPK Budi emails a complete request", "2. PPK Siti emails only the letter",
                 "3. Siti replies to that email with the SK", "4. The admin checks validity and replies SETUJU",
                 "5. The admin replies TOLAK", "6. A second poll finds nothing new"):
        assert step in out
    assert "-> credentials" in out and "-> rejected" in out
    assert "LPSE-DEMO-2026-00001   COMPLETED" in out and "LPSE-DEMO-2026-00002   REJECTED" in out
    assert "7. PPK Rina, from her private address, sends a scanned letter and a phone photo of the SK" in out
    assert "LPSE-DEMO-2026-00003" in out  # AWAITING_REVIEW after OCR (tests/integration/test_demo_scans.py)
    assert "Demo finished" in out
    assert list(tmp_path.iterdir()) == []  # nothing left in the working directory
