"""An RFC 822 message, read into what the helpdesk needs. Pure: no Django, no clock, no I/O.

The standard library's `email` package with `policy=default` does the MIME work. Everything a sender wrote is
untrusted and may be broken, so every step has a defined way out rather than an exception:
- headers are read raw and decoded leniently (a malformed encoded word or address is read as text);
- a part's charset is tried, then UTF-8, then Windows-1252 with replacement (cp1252 decodes almost any byte,
  and is what unlabelled 8-bit mail most often is);
- NUL characters and lone surrogates (PostgreSQL stores neither) are dropped or replaced;
- the walk over the parts stops at MAX_PARTS, the subject is cut to SUBJECT_MAX characters, and the text
  given to the reply parser to INPUT_MAX (its regexes are linear but not free).

Plain text is preferred; HTML is turned into text and sanitised with nh3 (tags gone, scripts and styles gone
with their content). Quoted history and signatures are trimmed (mail-parser-reply) for the ticket's text and
the analysis; the whole original is kept by the caller as received.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

SUBJECT_MAX = 500
MAX_PARTS = 200
MAX_RECIPIENTS = 1000
INPUT_MAX = 200_000  # characters of body text read at all; the original stays whole in the record
MESSAGE_ID_MAX = 250
FALLBACK_CHARSETS = ("utf-8", "cp1252")
TOKEN = re.compile(r"\[#(\d{1,12})\]")
# "Re:", "AW:", "Fwd:" … and our own token, for comparing subjects.
BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote|/table)\b[^>]*>")
BLANK_RUNS = re.compile(r"\n[ \t\r\f\v]*\n(\s*\n)+")

AUTO_PRECEDENCE = ("bulk", "junk", "list", "auto_reply", "auto-reply")
DAEMON_LOCALS = ("mailer-daemon", "postmaster", "mail-daemon", "noreply-dsn")


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_address: str
    from_name: str
    reply_to: str
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To: lower-cased, de-duplicated, bounded
    text: str  # the whole body as text
    reply_text: str  # the newest part: quoted history and signature trimmed
    attachments: list[Attachment] = field(default_factory=list)
    auto_reason: str = ""  # why this is an auto-reply or a bounce ("" for mail a person wrote)
    defects: int = 0

    @property
    def ticket_token(self) -> int | None:
        match = TOKEN.search(self.subject)
        return int(match.group(1)) if match else None

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, nearest first."""
        seen: list[str] = []
        for value in [*self.in_reply_to, *reversed(self.references)]:
            if value not in seen:
                seen.append(value)
        return seen


def clean(text: str) -> str:
    """Text PostgreSQL can store: no NUL, no lone surrogate (left by undecodable 8-bit headers)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def decode_bytes(data: bytes, charset: str | None) -> str:
    for candidate in (charset, *FALLBACK_CHARSETS):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", "replace")


def _raw_headers(message: Message, name: str) -> list[str]:
    """The header's values as sent, without the policy's parsing (which can raise on a malformed one)."""
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def decode_header_value(value: str) -> str:
    """RFC 2047 encoded words decoded, leniently: a broken one stays as it was written."""
    try:
        decoded = str(make_header(decode_header(value)))
    except Exception:  # the stdlib raises several types here (HeaderParseError, LookupError, UnicodeError…)
        decoded = value
    return clean(" ".join(decoded.split()))


def header(message: Message, name: str) -> str:
    values = _raw_headers(message, name)
    return decode_header_value(values[0]) if values else ""


def message_ids(value: str) -> list[str]:
    """The <ids> of In-Reply-To or References, brackets dropped, each normalised as stored."""
    return [normalise_message_id(found) for found in re.findall(r"<([^<>\s]{1,2000})>", value)][:100]


def normalise_message_id(value: str) -> str:
    """A Message-ID as stored and compared: brackets and spaces dropped; an absurdly long one by its hash."""
    value = clean(value.strip().strip("<>").strip())
    if len(value) > MESSAGE_ID_MAX:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    try:
        pairs = getaddresses([decode_header_value(v) for v in values])
    except Exception:  # a header the address parser can't take: no address from it
        return []
    return [(clean(name), clean(addr).strip().lower()) for name, addr in pairs if "@" in addr][:MAX_RECIPIENTS]


def is_auto(message: Message, from_address: str) -> str:
    """Why the mail is automatic (RFC 3834 Auto-Submitted, the common vendor headers, a DSN or MDN report, a
    mail daemon's address), or "" for mail a person wrote."""
    auto_submitted = header(message, "Auto-Submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return f"Auto-Submitted: {auto_submitted[:50]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if header(message, name):
            return name
    precedence = header(message, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if message.get_content_type() == "multipart/report":
        return "delivery or read report"
    if from_address.split("@", 1)[0] in DAEMON_LOCALS:
        return "mail daemon"
    return_path = header(message, "Return-Path")
    if return_path.replace(" ", "") == "<>":
        return "null sender"
    return ""


def html_to_text(markup: str) -> str:
    """Text of an HTML body, sanitised: line breaks where blocks end, every tag removed, scripts and styles
    dropped with their content, entities decoded."""
    markup = BLOCK_TAGS.sub("\n", markup[: INPUT_MAX * 4])
    stripped = nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    text = html.unescape(stripped).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    return BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if part.get_content_maintype() in ("text",) and not part.get_filename():
        return False
    return disposition == "inline" or part.get_content_maintype() in ("image", "application", "audio", "video")


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: the part's bytes as they are
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _walk(message: Message):
    for count, part in enumerate(message.walk()):
        if count >= MAX_PARTS:
            return
        yield part


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # a malformed RFC 2231 parameter
        name = ""
    name = decode_header_value(name).replace("/", "_").replace("\\", "_").strip()
    if name:
        return name[:255]
    subtype = part.get_content_subtype() if part.get_content_maintype() == "image" else "bin"
    return f"part-{index}.{subtype}"


def _bodies(message: Message) -> tuple[str, str, list[Attachment]]:
    """The first plain-text body, the first HTML body, and the attachments (a forwarded message/rfc822 is
    one attachment, its text not merged into ours)."""
    plain, markup, attachments = "", "", []
    skip: set[int] = set()
    for index, part in enumerate(_walk(message)):
        if id(part) in skip:
            continue
        if part.get_content_type() == "message/rfc822" or part.get_content_type() == "message/delivery-status":
            attachments.append(Attachment(f"forwarded-{index}.eml", "message/rfc822", part.as_bytes()[: INPUT_MAX * 4]))
            skip |= {id(inner) for inner in part.walk()}
            continue
        if part.is_multipart():
            continue
        if _is_attachment(part):
            inline = (part.get_content_disposition() or "") == "inline" or bool(_raw_headers(part, "Content-ID"))
            attachments.append(Attachment(_filename(part, index), part.get_content_type(), _payload(part), inline))
            continue
        text = decode_bytes(_payload(part)[: INPUT_MAX * 4], part.get_content_charset())
        if part.get_content_type() == "text/html" and not markup:
            markup = text
        elif part.get_content_type() == "text/plain" and not plain:
            plain = text
    return plain, markup, attachments


def trim_reply(text: str) -> str:
    """The newest reply of a thread: quoted history and signature removed. The whole text when trimming
    leaves nothing (a pure forward, a mail that is all quote)."""
    try:
        replies = EmailReplyParser(languages=list(MAIL_LANGUAGES)).read(text=text[:INPUT_MAX]).replies
    except Exception:  # the parser's regexes on odd input: analysis falls back to the whole text
        return text
    newest = replies[0].body.strip() if replies else ""
    return newest or text


def parse(raw: bytes) -> ParsedMail:
    """Never raises for any input of bytes."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    senders = _addresses(_raw_headers(message, "From"))
    from_name, from_address = senders[0] if senders else ("", "")
    reply_to = _addresses(_raw_headers(message, "Reply-To"))
    recipient_headers = [*(_raw_headers(message, n) for n in ("To", "Cc", "Delivered-To", "X-Original-To"))]
    recipients = list(dict.fromkeys(addr for values in recipient_headers for _, addr in _addresses(values)))
    plain, markup, attachments = _bodies(message)
    text = clean(plain.strip() or html_to_text(markup)).replace("\r\n", "\n").replace("\r", "\n").strip()
    ids = _raw_headers(message, "Message-ID")
    message_id = normalise_message_id(ids[0]) if ids else ""
    return ParsedMail(
        message_id=message_id,
        in_reply_to=message_ids(" ".join(_raw_headers(message, "In-Reply-To"))),
        references=message_ids(" ".join(_raw_headers(message, "References"))),
        subject=header(message, "Subject")[:SUBJECT_MAX],
        from_address=from_address,
        from_name=from_name[:200],
        reply_to=reply_to[0][1] if reply_to else "",
        recipients=recipients[:MAX_RECIPIENTS],
        text=text,
        reply_text=clean(trim_reply(text)).strip(),
        attachments=attachments,
        auto_reason=is_auto(message, from_address),
        defects=len(message.defects),
    )


def synthetic_message_id(raw: bytes) -> str:
    """For a mail without a Message-ID: the same bytes delivered twice get the same id (one message)."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def subject_of(parsed: ParsedMail) -> str:
    """A ticket's subject from the mail's: our token removed, never empty."""
    subject = " ".join(TOKEN.sub("", parsed.subject).split())
    return subject or "(no subject)"


def display_address(name: str, address: str) -> str:
    """`"Name" <address>`, quoted so a comma or an at sign in the name can't add a recipient."""
    name = "".join(c for c in name if c not in '\\"<>\r\n').strip()
    return f'"{name}" <{address}>' if name else address


def plus_tag(address: str) -> tuple[str, str]:
    """("local+tag@domain" -> ("local@domain", "tag")); ("a@b" -> ("a@b", ""))."""
    name, at, domain = parseaddr(address)[1].partition("@")
    local, _, tag = name.partition("+")
    return (f"{local}{at}{domain}".lower(), tag)
