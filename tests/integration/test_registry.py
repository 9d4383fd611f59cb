"""The PPK registry is safe to maintain (issue 14 point 6): duplicates refused with their lines, an address
change shown first (--dry-run), audited and told to the admins, remove/deactivate, and the files Excel writes."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailbot.admin.hardcopy import register_hardcopy
from mailbot.cases.delivery import flush_outbox
from mailbot.cli import main
from mailbot.domain.results import PollResult
from mailbot.store.models import Case, Event, Outbox, Ppk
from tests.support.config import write_config
from tests.support.documents import sample_request_letter, sample_sk
from tests.support.mails import ADMIN, PPK_A, PPK_B
from tests.support.servers import FaultySmtp

A_NAME, A_NIP, A_EMAIL, A_USER_ID, A_SATKER = PPK_A
B_NAME, B_NIP, B_EMAIL, B_USER_ID, B_SATKER = PPK_B
C_NIP = "199001012015031004"
HEADER = "nama,nip,email,user_id,satker"
WIB = ZoneInfo("Asia/Jakarta")


class Reg:
    """`mailbot --config … registry …` in-process, on SQLite, mail to a real loopback SMTP server."""

    def __init__(self, tmp_path: Path, smtp: FaultySmtp, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp, self.smtp, self.capsys = tmp_path, smtp, capsys
        self.config = write_config(tmp_path, "127.0.0.1", 9, "lpse", smtp.host, smtp.port,
                                   f"sqlite:///{tmp_path / 'mailbot.db'}")

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = main(["--config", str(self.config), *argv])
        out, err = self.capsys.readouterr()
        return rc, out, err

    def ok(self, *argv: str) -> str:
        rc, out, err = self(*argv)
        assert rc == 0, (out, err)
        return out

    def refused(self, *argv: str) -> str:
        """Exit 2 with exactly one line on stderr; that line."""
        rc, out, err = self(*argv)
        assert rc == 2, (out, err)
        [line] = err.splitlines()
        return line

    def listing(self) -> dict[str, dict]:  # type: ignore[type-arg]
        return {r["nip"]: r for r in json.loads(self.ok("registry", "list", "--json"))}

    def file(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.tmp / name
        path.write_bytes(text.encode(encoding))
        return path

    def app(self):  # type: ignore[no-untyped-def]
        from mailbot.app import build_app
        from mailbot.config import load_settings

        return build_app(load_settings(self.config))


@pytest.fixture
def reg(tmp_path: Path, smtp_server: FaultySmtp, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Reg:
    monkeypatch.setenv("MAILBOT_SECRET", secrets.token_hex(16))
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "unused")
    monkeypatch.setenv("SUDO_USER", "petugas")
    r = Reg(tmp_path, smtp_server, capsys)
    r.ok("migrate")
    r.ok("registry", "import", str(r.file("first.csv", f"{HEADER}\n{','.join(PPK_A)}\n{','.join(PPK_B)}\n")))
    return r


def rows(engine_app) -> tuple[list[Event], list[Outbox]]:  # type: ignore[no-untyped-def]
    with engine_app.factory() as s:
        events = list(s.scalars(select(Event).where(Event.kind.like("registry_%")).order_by(Event.id)))
        outbox = list(s.scalars(select(Outbox).order_by(Outbox.id)))
    return events, outbox


def test_duplicate_nip_in_the_file_is_refused_with_both_lines(reg: Reg) -> None:
    """Scenario: the same NIP on lines 2 and 4 (spaced differently) → exit 2 naming both lines; nothing changes."""
    f = reg.file("dup.csv", f"{HEADER}\n{','.join(PPK_A)}\nAndi,{C_NIP},andi@bpbd-demo.go.id,andi,BPBD\n"
                            f"Budi S.,\"{A_NIP[:8]} {A_NIP[8:14]} {A_NIP[14]} {A_NIP[15:]}\",budi2@x.go.id,b,PUPR\n")
    line = reg.refused("registry", "import", str(f))
    assert f"{f}:4:" in line and A_NIP in line and "line 2" in line
    assert set(reg.listing()) == {A_NIP, B_NIP}


def test_duplicate_email_in_the_file_is_refused_with_both_lines(reg: Reg) -> None:
    """Scenario: two NIPs with one address (any case) in the file → exit 2 naming lines 3 and 2."""
    f = reg.file("dup.csv", f"{HEADER}\nAndi,{C_NIP},andi@bpbd-demo.go.id,andi,BPBD\n"
                            f"Dewi,198801012010012001,ANDI@bpbd-demo.go.id,dewi,BPBD\n")
    line = reg.refused("registry", "import", str(f))
    assert f"{f}:3:" in line and "andi@bpbd-demo.go.id" in line and "line 2" in line
    assert set(reg.listing()) == {A_NIP, B_NIP}


def test_email_of_another_registered_ppk_is_refused(reg: Reg) -> None:
    """Scenario: a new NIP with PPK A's address while A stays → refused naming the line and A's NIP."""
    f = reg.file("steal.csv", f"{HEADER}\nMallory,{C_NIP},{A_EMAIL},m,X\n")
    line = reg.refused("registry", "import", str(f))
    assert f"{f}:2:" in line and A_NIP in line and A_EMAIL in line
    assert set(reg.listing()) == {A_NIP, B_NIP}


def test_email_change_is_shown_by_dry_run_then_audited_and_told_to_the_admins(reg: Reg) -> None:
    """Scenario: PPK A's address changes → --dry-run prints it and changes nothing; the import records an
    audit event with old and new address and who, and every admin gets `registry_changed`."""
    new_email = "budi.baru@pupr-demo.go.id"
    f = reg.file("new.csv", f"{HEADER}\n{A_NAME},{A_NIP},{new_email},{A_USER_ID},{A_SATKER}\n"
                            f"Andi Wijaya,{C_NIP},andi@bpbd-demo.go.id,andi.ppk,BPBD\n")
    app = reg.app()
    before_events, before_outbox = rows(app)
    out = reg.ok("registry", "import", "--dry-run", str(f)).splitlines()
    assert any(ln.startswith(f"change  {A_NIP}") and A_EMAIL in ln and new_email in ln for ln in out)
    assert any(ln.startswith(f"add     {C_NIP}") for ln in out)
    assert "dry run: nothing changed" in out[-1]
    assert reg.listing()[A_NIP]["email"] == A_EMAIL and C_NIP not in reg.listing()
    after_events, after_outbox = rows(app)
    assert [e.id for e in after_events] == [e.id for e in before_events]  # no audit row
    assert [o.id for o in after_outbox] == [o.id for o in before_outbox]  # no mail

    out = reg.ok("registry", "import", "--by", "rahmat", str(f)).splitlines()
    assert out[-1] == "registry: 1 added, 1 updated"
    assert reg.listing()[A_NIP]["email"] == new_email
    events, outbox = rows(app)
    [changed] = [e for e in events if e.kind == "registry_email_changed"]
    assert changed.actor == "cli:rahmat" and A_EMAIL in changed.detail and new_email in changed.detail
    assert [o.template for o in outbox if o.template == "registry_changed"] == ["registry_changed"]
    flush_outbox(app, datetime.now(WIB), PollResult())
    [mail] = [m for m in reg.smtp.messages if m.header("X-Mailbot-Template") == "registry_changed"]
    assert mail.rcpt_tos == [ADMIN] and mail.header("Auto-Submitted") == "auto-generated"
    assert mail.header("X-Mailbot-Case") is None
    body = mail.message.get_body(("plain",)).get_content()
    assert A_EMAIL in body and new_email in body and "rahmat" in body and A_NIP in body
    app.engine.dispose()

    # The same file again changes nothing and tells nobody.
    out = reg.ok("registry", "import", str(f)).splitlines()
    assert out == ["registry: 0 added, 0 updated"]
    assert len([o for o in rows(reg.app())[1] if o.template == "registry_changed"]) == 1


def test_deactivated_ppk_matches_no_new_request_and_remove_keeps_named_entries(reg: Reg, tmp_path: Path) -> None:
    """Scenario: PPK B is deactivated → a walk-in request of B's is matched to no registry entry; A has a case,
    so `registry remove A` is refused (deactivate instead); an entry without cases is removed."""
    app = reg.app()
    letter, sk = tmp_path / "Surat Permohonan.pdf", tmp_path / "SK PPK.pdf"
    letter.write_bytes(sample_request_letter(A_NAME, A_NIP))
    sk.write_bytes(sample_sk(A_NAME, A_NIP))
    now = datetime(2026, 3, 3, 9, 0, tzinfo=WIB)
    a_case = register_hardcopy(app, name=A_NAME, nip=A_NIP, email=A_EMAIL, request_type="reset_password",
                               files=[letter, sk], user="petugas", now=now)

    out = reg.ok("registry", "deactivate", B_NIP, "--by", "rahmat")
    assert B_NIP in out and "deactivated" in out
    assert reg.listing()[B_NIP]["active"] is False
    assert "[nonaktif]" in reg.ok("registry", "list")
    assert "already inactive" in reg.refused("registry", "deactivate", B_NIP)
    letter.write_bytes(sample_request_letter(B_NAME, B_NIP))
    sk.write_bytes(sample_sk(B_NAME, B_NIP))
    b_case = register_hardcopy(app, name=B_NAME, nip=B_NIP, email=B_EMAIL, request_type="reset_password",
                               files=[letter, sk], user="petugas", now=now)
    with app.factory() as s:
        assert s.scalar(select(Case).where(Case.number == a_case)).ppk_id is not None
        assert s.scalar(select(Case).where(Case.number == b_case)).ppk_id is None  # B matches nothing now

    line = reg.refused("registry", "remove", A_NIP)
    assert "registry deactivate" in line and A_NIP in line
    assert A_NIP in reg.listing()
    f = reg.file("c.csv", f"{HEADER}\nAndi Wijaya,{C_NIP},andi@bpbd-demo.go.id,andi.ppk,BPBD\n")
    reg.ok("registry", "import", str(f))
    assert C_NIP in reg.ok("registry", "remove", C_NIP, "--by", "rahmat")
    assert C_NIP not in reg.listing()
    assert "not in the registry" in reg.refused("registry", "remove", C_NIP)
    events, outbox = rows(app)
    assert [e.kind for e in events][-3:] == ["registry_deactivated", "registry_added", "registry_removed"]
    assert all(e.actor == "cli:rahmat" for e in events if e.kind in ("registry_deactivated", "registry_removed"))
    assert len([o for o in outbox if o.template == "registry_changed"]) == 2  # deactivation and removal
    app.engine.dispose()


def test_replace_dry_run_lists_removals(reg: Reg) -> None:
    """Scenario: --replace with a file that has only A → the dry run lists B as removed; the import deactivates B."""
    f = reg.file("only-a.csv", f"{HEADER}\n{','.join(PPK_A)}\n")
    out = reg.ok("registry", "import", "--replace", "--dry-run", str(f))
    assert f"remove  {B_NIP}" in out and reg.listing()[B_NIP]["active"] is True
    out = reg.ok("registry", "import", "--replace", str(f))
    assert "1 deactivated" in out and reg.listing()[B_NIP]["active"] is False


@pytest.mark.parametrize("encoding,bom,sep", [("cp1252", "", ";"), ("cp1252", "", ","), ("utf-8", "\ufeff", ";"),
                                              ("utf-8", "\ufeff", ","), ("utf-8", "", ";")])
def test_excel_csv_is_read_as_it_comes(reg: Reg, encoding: str, bom: str, sep: str) -> None:
    """Scenario: Excel's "CSV (Comma delimited)" (Windows-1252, `,` or `;` by locale) and "CSV UTF-8" (BOM)
    with CRLF, a quoted satker holding the separator and a name with é → read as written."""
    satker = f'"Dinas PU{sep} Bina Marga"'
    text = (bom + sep.join(HEADER.split(",")) + "\r\n"
            + sep.join(["José Rizal", C_NIP, "jose@pu-demo.go.id", "jose.ppk", satker]) + "\r\n")
    f = reg.file(f"excel-{encoding}.csv", text, encoding)
    assert reg.ok("registry", "import", str(f)).strip() == "registry: 1 added, 0 updated"
    entry = reg.listing()[C_NIP]
    assert (entry["nama"], entry["email"], entry["satker"]) == ("José Rizal", "jose@pu-demo.go.id",
                                                                f"Dinas PU{sep} Bina Marga")


def test_undecodable_file_is_one_line_with_the_line_number(reg: Reg) -> None:
    """Scenario: bytes no Windows-1252 text has (0x81) on line 3 → exit 2 naming line 3."""
    f = reg.tmp / "bad.csv"
    f.write_bytes(f"{HEADER}\n{','.join(PPK_A)}\nX\x81,{C_NIP},x@y.go.id,x,y\n".encode("latin-1"))
    line = reg.refused("registry", "import", str(f))
    assert f"{f}:3:" in line and "UTF-8" in line


def test_xlsx_is_read_directly_and_a_number_nip_is_refused_with_its_row(reg: Reg) -> None:
    """Scenario: a workbook with the NIP typed as text → imported; the NIP as an Excel number (digits lost)
    → exit 2 naming the row."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    ws.append(["José Rizal", C_NIP, "Jose@PU-demo.go.id", "jose.ppk", "Dinas PU"])
    ws.append(list(PPK_B))
    path = reg.tmp / "registri.xlsx"
    wb.save(path)
    assert reg.ok("registry", "import", str(path)).strip() == "registry: 1 added, 0 updated"
    assert reg.listing()[C_NIP]["email"] == "jose@pu-demo.go.id"

    ws.append(["Dewi", float("198801012010012001"), "dewi@x.go.id", "dewi", "X"])
    wb.save(path)
    line = reg.refused("registry", "import", str(path))
    assert f"{path}:4:" in line and "Text" in line


def test_scientific_nip_from_excel_csv_names_the_line(reg: Reg) -> None:
    """Scenario: Excel wrote the NIP as 1,98003E+17 → exit 2 naming line 2 and what to do."""
    f = reg.file("sci.csv", "nama;nip;email;user_id;satker\r\nBudi;1,98003E+17;b@x.go.id;b;X\r\n", "cp1252")
    line = reg.refused("registry", "import", str(f))
    assert f"{f}:2:" in line and "Text" in line


def test_inactive_ppk_gets_no_credentials(reg: Reg, tmp_path: Path) -> None:
    """Scenario: a case of PPK A awaits review, then A is deactivated → `approve` is refused; no credentials."""
    app = reg.app()
    letter, sk = tmp_path / "Surat Permohonan.pdf", tmp_path / "SK PPK.pdf"
    letter.write_bytes(sample_request_letter(A_NAME, A_NIP))
    sk.write_bytes(sample_sk(A_NAME, A_NIP))
    number = register_hardcopy(app, name=A_NAME, nip=A_NIP, email=A_EMAIL, request_type="reset_password",
                               files=[letter, sk], user="petugas", now=datetime(2026, 3, 3, 9, 0, tzinfo=WIB))
    reg.ok("registry", "deactivate", A_NIP)
    rc, _out, err = reg("approve", number)
    assert rc == 1 and "dinonaktifkan" in err
    with app.factory() as s:
        assert s.scalar(select(Case.status).where(Case.number == number)) == "AWAITING_REVIEW"
        assert not s.scalars(select(Outbox).where(Outbox.template == "credentials")).all()
        assert s.scalar(select(Ppk.active).where(Ppk.nip == A_NIP)) is False
    app.engine.dispose()
