"""All models, one module per area; MODELS lists every table in dependency order."""
from sendtex.models.accounts import Account, Invitation, LoginAttempt, User
from sendtex.models.mail import OutboxMessage
from sendtex.models.privacy import ConsentRecord

MODELS = [Account, User, Invitation, LoginAttempt, OutboxMessage, ConsentRecord]
