"""Property tests for mailbot.commands: never raise, never act on quotes, never leak a password."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailbot.cases.commands import find_review_codes, parse_command
from mailbot.cases.replies import new_text
from mailbot.domain.redaction import redact_secrets
from mailbot.intake.redact import redact_raw_message

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYWORDS = ["SETUJU", "setuju", "APPROVE", "TOLAK alasan", "REJECT reason", "LENGKAPI SK",
            "INCOMPLETE letter", "Password: x1", "Kirim ke pengirim: ya"]
# Lines that look like mail: keywords, quote headers, signatures, HTML, junk.
MAIL_LINES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(KEYWORDS + [
        "", "> SETUJU", "On Tue, Nov 24, 2026 Bot <b@x> wrote:", "Pada Sel menulis:", "-- ", "--",
        "From: Bot", "Sent: Tuesday", "Dari: Bot", "Dikirim: Selasa", "-----Original Message-----",
        "_" * 32, "Sent from my iPhone", "<blockquote>", "<div class=\"gmail_quote\">", "<hr>",
        "RV-7KQ2-M9XH-4TJ3-WP8N", "\r", "\ufeff", "\u00a0", "&nbsp;", "<br/>", "<pre>", "</div>",
    ]),
)
MAIL_TEXT = st.lists(MAIL_LINES, max_size=20).map("\n".join)


@FUZZ
@given(text=st.one_of(st.text(), MAIL_TEXT), html=st.one_of(st.none(), st.text(), MAIL_TEXT))
def test_parsing_never_raises(text: str, html: str | None) -> None:
    command = parse_command(text, html)
    assert command.action in (None, "approve", "reject", "request_docs")
    assert (command.action is None) == (command.error is not None)
    assert isinstance(new_text(text, html), str)
    assert all(code.startswith("RV-") for code in find_review_codes(text, html or ""))


@FUZZ
@given(text=st.one_of(st.text(), MAIL_TEXT))
def test_redact_secrets_never_raises(text: str) -> None:
    assert isinstance(redact_secrets(text), str)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=2000), MAIL_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_redact_raw_message_never_raises(raw: bytes) -> None:
    assert isinstance(redact_raw_message(raw), bytes)


@FUZZ
@given(
    keyword=st.sampled_from(KEYWORDS),
    quote_prefix=st.sampled_from(["> ", ">", ">> ", "  > ", "> > "]),
    before=st.lists(st.sampled_from(["", " ", "\u00a0", "> ", ">"]), max_size=3),
    after=st.lists(st.text(alphabet="> \t", max_size=5).map(lambda s: "> " + s), max_size=3),
)
def test_keyword_only_inside_quote_never_acts(
    keyword: str, quote_prefix: str, before: list[str], after: list[str]
) -> None:
    text = "\n".join(before + [quote_prefix + keyword] + after)
    assert parse_command(text).action is None


SECRET = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="!#$%&*+-=?@_~"),
    min_size=6,
    max_size=24,
)
LABEL = st.sampled_from(["Password:", "password: ", "PASSWORD :", "Kata sandi:", "> Password: ",
                         "Password baru: ", "Usulan password sementara:", "\tPassword:\t"])


@FUZZ
@given(
    secret=SECRET,
    label=LABEL,
    before=st.lists(st.text(max_size=40), max_size=4),
    after=st.lists(st.text(max_size=40), max_size=4),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_redact_secrets_never_leaks_the_password(
    secret: str, label: str, before: list[str], after: list[str], newline: str
) -> None:
    # The value can only be checked for when it occurs nowhere else in the message.
    assume(all(secret not in line for line in before + after))
    assume(not any("\n" in line or "\r" in line for line in before + after))
    text = newline.join(before + [label + secret] + after)
    redacted = redact_secrets(text)
    assert secret not in redacted
    assert "[DISUNTING]" in redacted


@FUZZ
@given(secret=SECRET, cte=st.sampled_from(["quoted-printable", "base64", "8bit"]),
       subtype=st.sampled_from(["plain", "html"]))
def test_redact_raw_message_never_leaks_the_password(secret: str, cte: str, subtype: str) -> None:
    import email
    from email import policy
    from email.message import EmailMessage

    # The value can only be checked for when it occurs nowhere else in the (redacted) message.
    assume(secret not in "SETUJU Catatan ok Subject From admin example go id div Password: [DISUNTING]")
    msg = EmailMessage()
    msg["From"] = "admin@example.go.id"
    msg["Subject"] = "Re: [LPSE-BYS-2026-00042]"
    body = f"SETUJU\nPassword: {secret}\nCatatan: ok\n"
    if subtype == "html":
        body = f"<div>SETUJU</div><div>Password: {secret.replace('&', '&amp;')}</div>"
        assume("&" not in secret)
    msg.set_content(body, subtype=subtype, cte=cte)
    redacted = redact_raw_message(msg.as_bytes())
    content = email.message_from_bytes(redacted, policy=policy.default).get_content()
    assert secret not in content
