"""E-mail over SMTP (aiosmtplib), sent so that a slow server never gets the same mail twice.

SMTP has no idempotency key. A client that stops waiting for the answer to the final "."
of DATA and sends again makes a duplicate whenever the server had in fact accepted the
first copy (RFC 1047), and RFC 5321 4.5.3.2.6 gives a server up to 10 minutes for that
answer (it may be scanning or relaying the message). So the mailer keeps two timeouts:
a short one for connecting and all the commands before the message data, where giving
up and retrying later is harmless because nothing was handed over yet; and a long one,
``data_timeout``, for the answer to the message data. If that answer still does not come
(or the connection drops while waiting), the outcome is unknown and the mailer raises
``UncertainDelivery``: the sender records NotificationFailed (``outcome_unknown``) and
does not send again.

Why not resend: a region would rather have staff see "not confirmed" and reach the
patient another way (the patient also has "your turn" in the app, and an unreached
patient lands on staff's list) than have the patient get two messages about one turn and
wonder which one counts. The same holds for a sender killed while the server had the
message: just before the data goes, the hand-over is committed (``Outgoing.handing_over``),
and a later try that finds it records ``outcome_unknown`` instead of sending again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from aiosmtplib.response import SMTPResponse

from careflow.notify.channels import (
    Outgoing,
    PermanentFailure,
    TransientFailure,
    UncertainDelivery,
    short_key,
)
from careflow.notify.domain import ChannelName

#: RFC 5321 4.5.3.2.6: the client should wait at least 10 minutes for the answer to ".".
RFC_DATA_TIMEOUT_SECONDS = 600.0
_NO_ANSWER = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError, TimeoutError)


def longest_send_seconds(command_timeout: float, data_timeout: float) -> float:
    """The longest one e-mail may take: everything before the data, then the data."""
    return command_timeout + data_timeout


class SmtpMailer:
    """E-mail over SMTP; the dedupe key becomes the Message-ID, which mail systems and
    clients use to recognise a duplicate. A 5xx refusal of the recipient is permanent; a
    4xx, or no answer before the message data was sent, is retried; no answer after the
    message data was sent is ``UncertainDelivery`` (never retried)."""

    name: ChannelName = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        data_timeout: float = RFC_DATA_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout
        self.data_timeout = data_timeout
        self.username = username
        self.password = password
        self.start_tls = start_tls
        self.longest_send_seconds = longest_send_seconds(timeout, data_timeout)

    def build(self, message: Outgoing) -> EmailMessage:
        """The e-mail for a notification (plain text; no personal data beyond the address)."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address["email"]
        mail["Subject"] = message.content.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{short_key(message.idempotency_key)}@notify.careflow>"
        mail["Content-Language"] = message.language
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.content.text)
        return mail

    async def send(self, message: Outgoing) -> None:
        mail = self.build(message)
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            timeout=self.timeout,
            username=self.username,
            password=self.password,
            start_tls=self.start_tls,
            use_tls=False,
        )
        try:
            try:
                # One deadline for everything before the data, so the longest send is known.
                async with asyncio.timeout(self.timeout):
                    start = await self._envelope(smtp, str(mail["To"]))
            except aiosmtplib.SMTPRecipientRefused as exc:
                if 500 <= exc.code < 600:
                    raise PermanentFailure(
                        f"the mail server refused the recipient ({exc.code})"
                    ) from None
                raise TransientFailure(
                    f"the mail server deferred the recipient ({exc.code})"
                ) from None
            except aiosmtplib.SMTPResponseException as exc:
                raise _refused(exc.code) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                raise TransientFailure(f"mail server unreachable ({type(exc).__name__})") from None
            if start.code != 354:
                raise _refused(start.code)
            await self._data(smtp, mail, message.handing_over)
        finally:
            with contextlib.suppress(Exception):
                smtp.close()

    async def _envelope(self, smtp: aiosmtplib.SMTP, recipient: str) -> SMTPResponse:
        """Connect and name sender and recipient, then ask to send the data."""
        await smtp.connect()
        await smtp.mail(self.sender)
        await smtp.rcpt(recipient)
        return await smtp.execute_command(b"DATA")

    async def _data(
        self,
        smtp: aiosmtplib.SMTP,
        mail: EmailMessage,
        handing_over: Callable[[], Awaitable[None]] | None,
    ) -> None:
        """Note the hand-over, hand over the message data and wait for the answer, long
        (see the module)."""
        protocol = smtp.protocol
        if protocol is None:
            raise TransientFailure("mail server unreachable (connection lost before the data)")
        data = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(mail.as_bytes()))
        if handing_over is not None:
            try:
                await handing_over()
            except Exception as exc:
                raise TransientFailure(
                    f"the hand-over could not be noted ({type(exc).__name__})"
                ) from None
        try:
            protocol.write(data + b".\r\n")
        except _NO_ANSWER as exc:
            # Nothing reached the server (the connection was already gone): safe to retry.
            raise TransientFailure(f"mail server unreachable ({type(exc).__name__})") from None
        try:
            answer = await protocol.read_response(timeout=self.data_timeout)
        except _NO_ANSWER as exc:
            raise UncertainDelivery(
                "the mail server did not confirm the message "
                f"({type(exc).__name__}); it may have arrived, so it is not sent again"
            ) from None
        if answer.code != 250:
            # The server answered: it did not take the message, so a retry is no duplicate.
            raise _refused(answer.code)
        with contextlib.suppress(Exception):
            await smtp.quit(timeout=min(self.timeout, 2.0))


def _refused(code: int) -> PermanentFailure | TransientFailure:
    if 500 <= code < 600 and code not in (530, 535):
        return PermanentFailure(f"the mail server refused the message ({code})")
    return TransientFailure(f"the mail server answered {code}")
