"""Support code shared by the tests: helpers by topic, imported by test files and conftest.

Test files import helpers from here (or constants from tests.conftest), never from another
test file (tests/test_support.py checks).
"""

API_KEY = "key_emulator_secret_1234567890"
BUCKET = "stills"
