"""Differential check: compose.build_raw writes the same bytes as the stdlib's modern email API
(compose._build_message_modern(...).as_bytes(policy=SMTP)), MIME boundaries aside.

    .venv/bin/python bench/compose_check.py [--n 3000]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from datetime import datetime, timedelta, timezone
from email.policy import SMTP
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailbot.outgoing.compose import (
    Outgoing,
    OutgoingAttachment,
    _build_message_modern,
    build_raw,
)
from mailbot.outgoing.render import TEMPLATES, Rendered

PIECES = ["Permohonan", "reset", "password", "—", "é", "ñ", "Siti Aminah", "(Dinas PU)", "=?utf-8?q?x?=",
          "\r\nBcc: evil@attacker.example", "\x00\x0b", "\udc80", "\"q\"", "a,b", "Kab.", "x" * 90, "  ", "\t",
          "LPSE-2026-00001", "[LPSE-2026-00001]", "<script>", "ü" * 40, "O'Brien", "a\\b", "!#$%"]
ADDRS = ["ppk@pu.example.go.id", "a.b+c@dinas.go.id", "x@sub.domain.example", "ppk@pu.example.go.id\r\nBcc: e@x",
         "very.long.local.part.for.testing.purposes@a-very-long-subdomain.of.the.government.go.id",
         "ppk@xn--bcher-kva.example"]
FILES = ["SK PPK.pdf", "Surat Permohonan.pdf", "a.pdf", "SK (1).pdf", "Ütf.pdf", "", "x=?y.pdf", "a" * 80 + ".pdf",
         "scan_01-02.PDF", "a\"b.pdf", "lampiran,1.pdf"]
CTYPES = ["application/pdf", "image/jpeg", "image/png", "text/plain", "multipart/mixed", "", "pdf",
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]
BOUNDARY = re.compile(rb"={15}\d+==")


def phrase(rng: random.Random, k: int) -> str:
    return " ".join(rng.choice(PIECES) for _ in range(rng.randint(0, k)))


def body(rng: random.Random) -> str:
    lines = [phrase(rng, 12) for _ in range(rng.randint(0, 30))]
    if rng.random() < 0.2:
        lines.append("y" * rng.randint(70, 200))
    return "\n".join(lines) + rng.choice(["", "\n", "\r\n"])


def sample(rng: random.Random) -> tuple[Outgoing, str, str]:
    atts = [OutgoingAttachment(rng.choice(FILES), rng.choice(CTYPES), rng.randbytes(rng.randint(0, 3000)))
            for _ in range(rng.choice([0, 0, 1, 2, 3]))]
    out = Outgoing(rng.choice(TEMPLATES), rng.sample(ADDRS, rng.randint(1, 2)),
                   Rendered(phrase(rng, 10), body(rng), "<p>" + body(rng) + "</p>"),
                   case_number=rng.choice([None, "LPSE-2026-00042", "LPSE-BYS-2026-00001"]),
                   in_reply_to=rng.choice([None, "<req@pu.example.go.id>", "<x y@z>", "<" + "a" * 90 + "@b.c>"]),
                   references=[rng.choice(["<r1@x.example>", "", "<bad", "<r" + "9" * 40 + "@x.example>"])
                               for _ in range(rng.randint(0, 12))],
                   attachments=atts)
    name = rng.choice(["LPSE Kabupaten Contoh", "LPSE", "", "LPSE Kab. Contoh", "Layanan — Kabupaten",
                       "LPSE Kabupaten Contoh Yang Namanya Sangat Panjang Sekali Hingga Melewati Batas"])
    frm = rng.choice(["lpse@lpse.example.go.id", "noreply@a-long-domain-name.lpse.example.go.id"])
    return out, name, frm


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000)
    args = ap.parse_args(argv)
    rng = random.Random(6)
    bad = 0
    for i in range(args.n):
        out, name, frm = sample(rng)
        date = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc) + timedelta(minutes=rng.randint(0, 10**6))
        mid = f"<mb.{out.case_number or 'NOCASE'}.0123456789ab.0123456789abcdef@mailbot.lpse.example.go.id>"
        subject, raw = build_raw(out, from_address=frm, from_name=name, message_id=mid, date=date)
        msg = _build_message_modern(out, from_address=frm, from_name=name, message_id=mid, date=date)
        ref = msg.as_bytes(policy=SMTP)
        if BOUNDARY.sub(b"B", raw) != BOUNDARY.sub(b"B", ref) or subject != str(msg["Subject"]):
            bad += 1
            if bad <= 3:
                print(f"--- sample {i} differs: {out!r:.300}")
                a, b = BOUNDARY.sub(b"B", raw).split(b"\r\n"), BOUNDARY.sub(b"B", ref).split(b"\r\n")
                for j, (x, y) in enumerate(zip(a, b)):
                    if x != y:
                        print(f"line {j}: fast {x!r:.200}\n        modern {y!r:.200}")
                        break
                else:
                    print(f"lengths {len(a)} vs {len(b)}; subject {subject!r} vs {str(msg['Subject'])!r}")
    print(f"{args.n} samples, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
