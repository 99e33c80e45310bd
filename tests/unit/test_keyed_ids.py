"""Ids a service makes from a caller's command id are keyed: deterministic for a retry, not
computable without the service's secret."""

from __future__ import annotations

import uuid

from polku.store import keyed_id
from services.casefile.application import relationship_id_for
from services.intake.application import referral_id_for


def test_a_keyed_id_is_the_same_for_the_same_input_and_key() -> None:
    assert referral_id_for("cmd-1", "secret") == referral_id_for("cmd-1", "secret")
    assert referral_id_for("cmd-1", "secret") != referral_id_for("cmd-2", "secret")


def test_without_the_key_the_id_is_not_the_one_a_caller_can_compute() -> None:
    referral = referral_id_for("cmd-1", "secret")
    assert referral != referral_id_for("cmd-1", "another secret")
    old_namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://polku.invalid/intake/referral")
    assert referral != uuid.uuid5(old_namespace, "cmd-1")  # the former, public derivation
    assert relationship_id_for(referral, "secret") != relationship_id_for(referral, "another secret")


def test_kinds_do_not_collide() -> None:
    assert keyed_id("secret", "casefile/decision", "r", "c") != keyed_id("secret", "casefile/meeting", "r", "c")
