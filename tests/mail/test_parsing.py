"""mail/parsing.py over the corpus: no database, no network."""

from __future__ import annotations

import pytest

from mail import parsing
from tests.mail import corpus


def test_it_prefers_the_plain_text_of_a_multipart_alternative():
    parsed = parsing.parse(corpus.alternative("Plain words", "<p>HTML <b>words</b></p>"))
    assert parsed.text == "Plain words"
    assert parsed.from_address == "jane@customer.test"
    assert parsed.from_name == "Jane Doe"
    assert parsed.recipients == ["support@acme.test"]


def test_it_turns_html_into_sanitised_text_when_there_is_no_plain_part():
    markup = (
        "<html><head><title>x</title><style>p{color:red}</style></head><body>"
        "<p>Hello&nbsp;there</p><div>Line two<br>Line three</div>"
        "<script>alert('owned')</script><img src=x onerror=alert(1)><a href='javascript:x'>link</a></body></html>"
    )
    parsed = parsing.parse(corpus.html_only(markup))
    assert parsed.text == "Hello there\nLine two\nLine three\nlink"
    assert "alert" not in parsed.text and "<" not in parsed.text and "color" not in parsed.text


def test_an_inline_image_is_an_attachment_and_not_text():
    parsed = parsing.parse(corpus.with_inline_image("See the logo", "<p>See the logo</p>"))
    assert parsed.text == "See the logo"
    assert [(a.name, a.content_type, a.inline, a.data) for a in parsed.attachments] == [
        ("logo.png", "image/png", True, corpus.PNG)
    ]


def test_a_forwarded_message_is_one_attachment_and_its_text_is_not_merged():
    original = corpus.plain("The original order text", subject="Your order")
    parsed = parsing.parse(corpus.forwarded("Please look at this order", original))
    assert parsed.text == "Please look at this order"
    assert len(parsed.attachments) == 1
    assert parsed.attachments[0].content_type == "message/rfc822"
    assert b"The original order text" in parsed.attachments[0].data


def test_a_gmail_reply_is_trimmed_to_the_new_words():
    raw = corpus.gmail_reply(
        "It still fails.\n\nJane", "Hello Jane,\nplease try again.", in_reply_to="out-1@acme.test", subject="Re: x"
    )
    parsed = parsing.parse(raw)
    assert parsed.reply_text == "It still fails.\n\nJane"
    assert "please try again" in parsed.text  # the whole body stays available
    assert parsed.in_reply_to == ["out-1@acme.test"] and parsed.thread_ids == ["out-1@acme.test"]


def test_an_outlook_reply_loses_its_signature_and_its_quoted_header_block():
    parsed = parsing.parse(corpus.outlook_reply("I want a refund now.", "Hello Jane", subject="[#12] Invoice"))
    assert parsed.reply_text == "I want a refund now."
    assert parsed.ticket_token == 12
    assert parsing.subject_of(parsed) == "RE: Invoice"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"X_Autoreply": "yes"}, "X-Autoreply"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"Return_Path": "<>"}, "null sender"),
    ],
)
def test_auto_replies_are_recognised(headers, reason):
    assert parsing.parse(corpus.auto_reply(**headers)).auto_reason == reason


def test_auto_submitted_no_is_a_person():
    assert parsing.parse(corpus.plain("hi", Auto_Submitted="no")).auto_reason == ""


def test_a_bounce_is_automatic():
    parsed = parsing.parse(corpus.bounce(corpus.plain("original")))
    assert parsed.auto_reason == "delivery or read report"


def test_a_mail_daemon_without_a_report_is_automatic_too():
    assert parsing.parse(corpus.plain("x", sender="postmaster@mx.test")).auto_reason == "mail daemon"


def test_non_utf8_charsets_are_decoded():
    latin = parsing.parse(corpus.latin1("Ich möchte eine Rückerstattung."))
    assert latin.text == "Ich möchte eine Rückerstattung."
    assert latin.subject == "Rückerstattung"
    assert latin.from_name == "Jürgen Müller"
    russian = parsing.parse(corpus.koi8r("Верните деньги"))
    assert russian.text == "Верните деньги" and russian.subject == "Верните деньги"


def test_an_unknown_charset_falls_back_to_windows_1252():
    assert parsing.parse(corpus.unknown_charset("Café “quoted”")).text == "Café “quoted”"


def test_malformed_mime_is_read_as_far_as_it_goes():
    parsed = parsing.parse(corpus.malformed_mime())
    assert parsed.text == "The printer is on fire"
    assert parsed.defects > 0
    assert [a.name for a in parsed.attachments] == ["a.pdf"]


def test_a_one_megabyte_subject_is_cut():
    raw = b"From: jane@customer.test\r\nSubject: " + b"x" * 1_000_000 + b"\r\n\r\nbody"
    parsed = parsing.parse(raw)
    assert parsed.subject == "x" * parsing.SUBJECT_MAX and parsed.text == "body"


def test_nul_bytes_and_lone_surrogates_never_reach_the_text():
    raw = b"From: jane@customer.test\r\nSubject: a\x00b \xff\r\nMessage-ID: <n\x00ul@x>\r\n\r\nbo\x00dy \xfe"
    parsed = parsing.parse(raw)
    for value in (parsed.subject, parsed.text, parsed.reply_text, parsed.message_id):
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogate: it encodes
    assert parsed.text.startswith("body")


def test_ten_thousand_recipients_are_bounded():
    to = ", ".join(f"user{i}@customer.test" for i in range(10_000))
    parsed = parsing.parse(corpus.plain("hi", to=to))
    assert len(parsed.recipients) == parsing.MAX_RECIPIENTS


def test_garbage_parses_without_raising():
    for raw in (b"", b"\x00\x01\x02", b"\r\n\r\n", b"From:\r\n\r\n", b"Content-Type: multipart/mixed\r\n\r\n--"):
        parsed = parsing.parse(raw)
        assert parsed.from_address == ""


def test_a_long_message_id_is_stored_by_its_hash():
    parsed = parsing.parse(corpus.plain("x", message_id="<" + "a" * 2000 + "@x>"))
    assert parsed.message_id.startswith("sha256:") and len(parsed.message_id) == 71


def test_a_plus_tag_is_split_from_its_address():
    assert parsing.plus_tag("Support <support+t12.abc@acme.test>") == ("support@acme.test", "t12.abc")
    assert parsing.plus_tag("support@acme.test") == ("support@acme.test", "")


def test_a_display_name_cannot_add_a_recipient():
    assert parsing.display_address('Acme, "Support" <x@y>', "support@acme.test") == (
        '"Acme, Support x@y" <support@acme.test>'
    )
