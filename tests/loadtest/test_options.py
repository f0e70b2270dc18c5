"""What a load test may be: every number a user types is checked, with a message naming it."""

from __future__ import annotations

import pytest

from hubdeploy.errors import UsageError
from hubdeploy.loadtest.options import MAX_REQUESTS, load_options

pytestmark = pytest.mark.unit


def test_defaults_start_every_user_in_the_first_second_and_stop_at_the_duration():
    opts = load_options(users=50, duration=60)
    assert (opts.spawn_rate, opts.max_requests, opts.texts_per_request, opts.max_error_rate) == (
        50.0,
        MAX_REQUESTS,
        1,
        0,
    )
    # the hard timeout: the duration, the users' last requests (timeout), a margin
    assert opts.hard_timeout == 60 + 30 + 30
    assert load_options(users=500, duration=10).spawn_rate == 100.0  # Locust warns above 100 users/s


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "--users 0: must be 1 to 5000"),
        ({"users": 10_000}, "--users 10000: must be 1 to 5000"),
        ({"duration": 0}, "--duration 0: must be more than 0"),
        ({"duration": 7200}, "--duration 7200: must be more than 0 and at most 3600 seconds"),
        ({"duration": float("nan")}, "--duration nan"),
        ({"spawn_rate": 0}, "--spawn-rate 0: must be more than 0"),
        ({"max_requests": 0}, "--max-requests 0: must be 1 to"),
        ({"texts_per_request": 0}, "--texts-per-request 0: must be 1 to"),
        ({"texts_per_request": 9, "max_texts": 6}, "--texts-per-request 9: must be 1 to 6 (the API's max_texts)"),
        ({"think_time": -1}, "--think-time -1: must be 0 to 60"),
        ({"timeout": 0}, "--timeout 0: must be more than 0"),
        ({"max_error_rate": 1.5}, "--max-error-rate 1.5: must be 0 to 1"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, message):
    with pytest.raises(UsageError) as err:
        load_options(**{"users": 5, "duration": 10, **kwargs})
    assert message in err.value.message and err.value.hint


def test_the_apis_own_limit_allows_up_to_max_texts():
    assert load_options(users=1, duration=1, texts_per_request=6, max_texts=6).texts_per_request == 6
