"""CPU cost of processing and flushing N complete requests, without servers (SQLite in a temp dir, a null
SMTP sender): a quick check before running bench/backlog.py.

    .venv/bin/python bench/cpu_profile.py [N] [--profile [cumulative|tottime]]

Prints ms of CPU per request for process_pending and for the outbox flush.
"""
import cProfile
import hashlib
import pstats
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mailbot.admin.registry import import_csv
from mailbot.app import build_app
from mailbot.config import load_settings
from mailbot.demo import samplepdf
from mailbot.demo.world import request_email, write_config
from mailbot.domain.results import PollResult
from mailbot.intake.process import process_pending
from mailbot.store.models import InboundMessage

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100
tmp = Path(tempfile.mkdtemp())
cfg = write_config(tmp, "127.0.0.1", 1, "u", "127.0.0.1", 1, f"sqlite:///{tmp/'x.db'}")
app = build_app(load_settings(cfg), secret=b"k"*16)
rows = []
csv = "nama,nip,email,user_id,satker\n"
for i in range(N):
    nip = f"19800315200604{1000+i:04d}"[:18]
    csv += f"PPK {i},{nip},ppk{i}@dinas.go.id,u{i},Dinas\n"
(tmp/"r.csv").write_text(csv); import_csv(app, tmp/"r.csv")
with app.factory() as s:
    for i in range(N):
        nip = f"19800315200604{1000+i:04d}"[:18]
        raw = request_email(f"ppk{i}@dinas.go.id", f"PPK {i}", "Permohonan reset password", f"NIP. {nip}",
              [("Surat Permohonan.pdf", samplepdf.sample_request_letter(f"PPK {i}", nip)), ("SK PPK.pdf", samplepdf.sample_sk(f"PPK {i}", nip))])
        s.add(InboundMessage(mailbox="INBOX", uidvalidity=1, uid=i+1, sha256=hashlib.sha256(raw).hexdigest(), raw_blob=app.store.put(raw), size=len(raw), received_at=datetime.now(timezone.utc)))
    s.commit()
class Null:
    def send(self, f, r, raw): pass
    def close(self): pass
now = datetime.now(timezone.utc)
prof = "--profile" in sys.argv
pr = cProfile.Profile()
t=time.process_time()
if prof: pr.enable()
process_pending(app, now, PollResult())
t1=time.process_time()
from mailbot.outgoing.outbox import flush

flush(app.factory, Null(), "lpse@x.go.id", now)
t2=time.process_time()
if prof:
    pr.disable()
    st = pstats.Stats(pr); st.sort_stats(sys.argv[sys.argv.index("--profile") + 1] if len(sys.argv) > sys.argv.index("--profile") + 1 else "cumulative").print_stats(int(__import__("os").environ.get("NSTATS", "45")))
print(f"process {1000*(t1-t)/N:.1f} ms/req, flush {1000*(t2-t1)/N:.1f} ms/req, total {N/(t2-t):.1f} req/CPU-s")
app.engine.dispose()
import shutil

shutil.rmtree(tmp, ignore_errors=True)
