"""market40.passwords: scrypt password hashes and one-time enrollment codes."""
import base64
import re

import pytest

from market40 import passwords
from market40.exceptions import InvalidFormat, InvalidLength
from market40.passwords import (
    ENROLLMENT_ALPHABET,
    format_enrollment_code,
    hash_enrollment_code,
    hash_password,
    needs_rehash,
    new_enrollment_code,
    normalize_enrollment_code,
    verify_enrollment_code,
    verify_password,
)

KEY = "test deployment secret, not for production"
FAST = {"n": 2**10, "r": 8, "p": 1}  # for tests that are not about the cost

#: This module is about the production cost itself: no test here runs on the suite's cheap one.
pytestmark = pytest.mark.production_scrypt


@pytest.fixture(scope="module")
def stored() -> str:
    """A hash made with the production parameters (once: it is slow on purpose)."""
    return hash_password("Chợ Hạ Long I #2026")


# --- passwords --------------------------------------------------------------------


def test_the_hash_names_scrypt_and_its_cost(stored):
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**15, 8, 3)
    # OWASP's scrypt floor is N=2**17 r=8 p=1; N=2**15 r=8 p=3 is listed as equivalent.
    assert int(n) * int(p) >= 2**15 * 3 and int(r) >= 8
    assert len(base64.b64decode(salt + "==")) == 16
    assert len(base64.b64decode(digest + "=")) == 32
    assert "Chợ" not in stored


def test_the_right_password_verifies(stored):
    assert verify_password("Chợ Hạ Long I #2026", stored)


@pytest.mark.parametrize("attempt", [
    "Cho Ha Long I #2026",  # without diacritics is another password
    "chợ hạ long i #2026",
    "Chợ Hạ Long I #2026 ",
    "",
])
def test_a_wrong_password_does_not(stored, attempt):
    assert not verify_password(attempt, stored)


def test_vietnamese_typed_decomposed_still_matches(stored):
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Chợ Hạ Long I #2026")
    assert decomposed != "Chợ Hạ Long I #2026"
    assert verify_password(decomposed, stored)


def test_same_password_gets_a_new_salt_each_time():
    first, second = hash_password("123456789", **FAST), hash_password("123456789", **FAST)
    assert first != second
    assert verify_password("123456789", first) and verify_password("123456789", second)


def test_no_password_means_no_login():
    assert verify_password("anything", None) is False


def test_needs_rehash_when_the_parameters_change(stored):
    assert not needs_rehash(stored)
    assert needs_rehash(hash_password("x", **FAST))
    assert needs_rehash(stored, n=2**16)
    assert needs_rehash(None) and needs_rehash("") and needs_rehash("pbkdf2_sha256$600000$abc$def")


@pytest.mark.parametrize("password", ["", "x" * (passwords.MAX_PASSWORD_LENGTH + 1)])
def test_empty_or_huge_passwords_are_refused(password):
    with pytest.raises(InvalidLength):
        hash_password(password)


@pytest.mark.parametrize("encoded", [
    "not a hash",
    "scrypt$32768$8$3$c2FsdA",  # a part missing
    "bcrypt$32768$8$3$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
    "scrypt$-1$8$3$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
    "scrypt$1000$8$3$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",  # N not a power of 2
    "scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",  # 1 TiB: a denial of service
    "scrypt$1024$8$1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
])
def test_malformed_stored_hashes_are_reported(encoded):
    with pytest.raises(InvalidFormat):
        verify_password("password", encoded)


# --- enrollment codes -------------------------------------------------------------------


def test_new_codes_are_two_groups_of_four_unambiguous_symbols():
    code = new_enrollment_code()
    assert re.fullmatch(r"[23456789CFHJKMNPQRTVX]{4}-[23456789CFHJKMNPQRTVX]{4}", code)


def test_the_alphabet_survives_vietnamese_keyboards_and_eyes():
    assert len(set(ENROLLMENT_ALPHABET)) == len(ENROLLMENT_ALPHABET) == 21  # 21**8: about 35 bits
    assert not set(ENROLLMENT_ALPHABET) & set("AEIOUY")  # Telex/VNI only change vowels...
    assert not set(ENROLLMENT_ALPHABET) & set("DW")  # ... and dd -> đ, w -> ư
    assert not set(ENROLLMENT_ALPHABET) & set("01ILOSZBG")  # look-alikes


def test_two_codes_differ():
    codes = {new_enrollment_code() for _ in range(200)}
    assert len(codes) == 200


@pytest.mark.parametrize("typed", ["7KQM-X3HC", "7kqm-x3hc", " 7KQM X3HC ", "7KQMX3HC", "7KQM–X3HC",
                                   "７ＫＱＭ-Ｘ３ＨＣ"])  # en dash; full-width digits and letters
def test_typed_codes_are_normalised(typed):
    assert normalize_enrollment_code(typed) == "7KQMX3HC"
    assert format_enrollment_code(typed) == "7KQM-X3HC"


def test_letters_left_out_are_read_as_the_digits_they_resemble():
    assert normalize_enrollment_code("SZBG-7KQM") == "5286" + "7KQM"


@pytest.mark.parametrize("typed", ["", "7KQM-X3H", "7KQM-X3HCC", "7KQM-X3HA", "ÂKQM-X3HC", "7KQM-X3H0"])
def test_malformed_codes_are_refused(typed):
    with pytest.raises(InvalidFormat) as info:
        normalize_enrollment_code(typed)
    assert info.value.field == "enrollment code"


def test_only_a_keyed_hash_is_stored_and_it_verifies():
    code = new_enrollment_code()
    stored = hash_enrollment_code(code, KEY)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert code.replace("-", "") not in stored.upper()
    assert stored == hash_enrollment_code(code.lower().replace("-", " "), KEY)  # deterministic: lookup by hash
    assert verify_enrollment_code(code.lower(), stored, KEY)
    assert not verify_enrollment_code(new_enrollment_code(), stored, KEY)
    assert not verify_enrollment_code("not a code", stored, KEY)


def test_the_hash_depends_on_the_key():
    code = new_enrollment_code()
    assert hash_enrollment_code(code, KEY) != hash_enrollment_code(code, KEY + "!")
    assert hash_enrollment_code(code, KEY) == hash_enrollment_code(code, KEY.encode())
    assert not verify_enrollment_code(code, hash_enrollment_code(code, KEY), "another deployment's key")


def test_a_short_key_is_refused():
    with pytest.raises(InvalidLength):
        hash_enrollment_code(new_enrollment_code(), "dev")
