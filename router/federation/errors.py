"""The federation's refusals, each with its own stable code (ER-0200 to ER-0249).

ER-0240..0249 concern delegations forwarded between peer routers.

Every refusal of a key, a delegation request or a decision has a code of its own, so that a host's
kiosk or a home's card system can tell exactly which rule its message broke.
"""

from __future__ import annotations

from router.domain.errors import (
    AccessDenied,
    Conflict,
    MalformedRequest,
    NotFound,
    RuleViolation,
)

# -- messages -----------------------------------------------------------------------------------


class MalformedMessage(MalformedRequest):
    """A delegation message that cannot be read: not JSON, missing or ill-typed claims."""

    code = "ER-0200"
    slug = "malformed-delegation-message"
    title = "Malformed delegation message"


class UnsignedMessage(MalformedRequest):
    """A message that is not a JWS, or whose algorithm is none or not one the protocol accepts."""

    code = "ER-0201"
    slug = "unsigned-message"
    title = "Message not signed"


class ForgedRequest(RuleViolation):
    """A request whose signature does not verify with the host's registered key."""

    code = "ER-0202"
    slug = "forged-request"
    title = "Request signature invalid"


class UnknownSigningKey(RuleViolation):
    """The ``kid`` names no signing key registered by the message's issuer."""

    code = "ER-0203"
    slug = "unknown-signing-key"
    title = "Unknown signing key"


class RevokedSigningKey(RuleViolation):
    """The ``kid`` names a key its institution has revoked."""

    code = "ER-0204"
    slug = "revoked-signing-key"
    title = "Revoked signing key"


class ReplayedMessage(Conflict):
    """A request (or decision) id that the router has already recorded."""

    code = "ER-0205"
    slug = "replayed-message"
    title = "Message already received"


class ExpiredMessage(RuleViolation):
    """A message whose expiry time has passed."""

    code = "ER-0206"
    slug = "expired-message"
    title = "Message expired"


class FutureDatedMessage(RuleViolation):
    """A message issued later than now (beyond a minute of clock skew)."""

    code = "ER-0207"
    slug = "future-dated-message"
    title = "Message dated in the future"


class LifetimeTooLong(RuleViolation):
    """A message valid for more than an hour, or whose expiry precedes its issue."""

    code = "ER-0208"
    slug = "message-lifetime-too-long"
    title = "Message valid for too long"


class InvalidApplication(MalformedRequest):
    """The application asked for breaks the DAM layout rules (AID, key settings, ISO parts)."""

    code = "ER-0209"
    slug = "invalid-delegated-application"
    title = "Invalid delegated application"


class SignerIsNotCaller(AccessDenied):
    """The message is signed in the name of another institution than the caller's."""

    code = "ER-0210"
    slug = "signer-is-not-caller"
    title = "Message signed for another institution"


# -- the card -----------------------------------------------------------------------------------


class DelegationCardUnknown(RuleViolation):
    """The request names a card this router does not know."""

    code = "ER-0211"
    slug = "delegation-card-unknown"
    title = "Card unknown"


class DelegationCardInactive(RuleViolation):
    """The request names a card that is not active (lost, suspended, expired...)."""

    code = "ER-0212"
    slug = "delegation-card-inactive"
    title = "Card not active"


class UidMismatch(RuleViolation):
    """The chip UID read by the host is not the chip serial number registered for the card."""

    code = "ER-0213"
    slug = "uid-mismatch"
    title = "Chip UID is not the card's"


class CardWithoutChipSerial(RuleViolation):
    """The card has no registered chip serial number, so its UID cannot be checked."""

    code = "ER-0214"
    slug = "card-without-chip-serial"
    title = "Card has no chip serial number"


class OwnCardDelegation(RuleViolation):
    """A host asking for a delegation on one of its own cards: it holds the DAM keys already."""

    code = "ER-0215"
    slug = "own-card-delegation"
    title = "Delegation on your own card"


class IssuerNotHosted(RuleViolation):
    """The card's issuer (read from the ESCN) is not an institution of this router."""

    code = "ER-0216"
    slug = "issuer-not-hosted"
    title = "Card issuer not on this router"


class SecretNotForRecipient(RuleViolation):
    """A secret is not encrypted to an active encryption key of the party that must open it."""

    code = "ER-0217"
    slug = "secret-not-for-recipient"
    title = "Secret not encrypted to the recipient"


# -- decisions ----------------------------------------------------------------------------------


class ForgedDecision(RuleViolation):
    """A decision whose signature does not verify with the home institution's registered key."""

    code = "ER-0220"
    slug = "forged-decision"
    title = "Decision signature invalid"


class DecisionNotFromIssuer(AccessDenied):
    """A decision signed by an institution that is not the card's issuer."""

    code = "ER-0221"
    slug = "decision-not-from-issuer"
    title = "Decision not from the card's issuer"


class DecisionNotBound(RuleViolation):
    """A decision that quotes another request (its id, hash or host) than the one it answers."""

    code = "ER-0222"
    slug = "decision-not-bound"
    title = "Decision bound to another request"


class DelegationExpired(RuleViolation):
    """The request expired before the decision arrived: it can no longer be approved."""

    code = "ER-0223"
    slug = "delegation-expired"
    title = "Delegation request expired"


class InvalidDelegationTransition(Conflict):
    """A change the delegation's current state does not allow (deciding twice, cancelling late)."""

    code = "ER-0224"
    slug = "invalid-delegation-transition"
    title = "Delegation state change not allowed"


class DelegationNotFound(NotFound):
    """No delegation with this id involves the caller's organisation."""

    code = "ER-0225"
    slug = "delegation-not-found"
    title = "Delegation not found"


class NotADelegationParty(AccessDenied):
    """The caller is a party to the delegation, but this step belongs to the other party."""

    code = "ER-0226"
    slug = "not-your-step"
    title = "Step of the other institution"


# -- keys ---------------------------------------------------------------------------------------


class InvalidPublicKey(MalformedRequest):
    """A JWK that is not an ECDSA P-256, Ed25519 or ECDH P-256 public key the protocol uses."""

    code = "ER-0230"
    slug = "invalid-public-key"
    title = "Invalid public key"


class PrivateKeyMaterial(MalformedRequest):
    """A JWK carrying private key material: the router never takes an institution's private key."""

    code = "ER-0231"
    slug = "private-key-material"
    title = "Private key sent"


class KeyAlreadyRegistered(Conflict):
    """The key (its kid, or the same public key) is registered already."""

    code = "ER-0232"
    slug = "key-already-registered"
    title = "Key already registered"


class InstitutionKeyNotFound(NotFound):
    """No key with this kid belongs to the caller's organisation."""

    code = "ER-0233"
    slug = "institution-key-not-found"
    title = "Key not found"


class KeyAlreadyRevoked(Conflict):
    """The key is revoked already: it cannot be rotated, and is issued anew instead."""

    code = "ER-0234"
    slug = "key-already-revoked"
    title = "Key already revoked"


# -- delegations forwarded between peer routers (ER-0240..0249) -----------------------------------


class HostNotOfCallingRouter(AccessDenied):
    """A forwarded request whose host institution the catalogue does not give the calling router.

    A router forwards its own institutions' requests only: one that speaks for another router's
    institution (or one it does not host at all) is refused, whatever the request says.
    """

    code = "ER-0240"
    slug = "host-not-of-calling-router"
    title = "Host institution not hosted by the calling router"


class InvalidForwardedKeys(MalformedRequest):
    """A forwarded request without the host's public keys as a readable JWKS."""

    code = "ER-0241"
    slug = "invalid-forwarded-keys"
    title = "Invalid forwarded host keys"

