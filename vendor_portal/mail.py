"""Outgoing email over SMTP. Without VENDOR_PORTAL_SMTP_HOST the message is logged instead."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)


def build_message(
    sender: str, to: list[str], subject: str, text: str, attachments: list[Attachment] | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="vendor-portal.local")
    message.set_content(text)
    for item in attachments or []:
        message.add_attachment(
            item.content,
            maintype=item.maintype,
            subtype=item.subtype,
            filename=item.filename,
            params=item.params,
        )
    return message


def send(
    config: Any, to: list[str], subject: str, text: str, attachments: list[Attachment] | None = None
) -> bool:
    """Send one message; True when it went to an SMTP server, False when only logged."""
    message = build_message(config["MAIL_FROM"], to, subject, text, attachments)
    host = config.get("SMTP_HOST")
    if not host:
        logger.warning(
            "SMTP is not configured (VENDOR_PORTAL_SMTP_HOST); email not sent:\n%s", message
        )
        return False
    with smtplib.SMTP(
        host, int(config["SMTP_PORT"]), timeout=float(config["SMTP_TIMEOUT"])
    ) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"] or "")
        smtp.send_message(message)
    return True
