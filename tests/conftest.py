import keras
import pytest


def pytest_configure(config):
    # Keras 3.9 to 3.11 shut down a CallbackList's thread pool in `CallbackList.__del__`; when `fit`
    # raises while a batch-end hook is pending on that pool, the list's last reference can go on a
    # pool thread, whose shutdown then fails to join itself ("cannot join current thread"), an
    # exception Python ignores and prints (reproduced with plain Keras 3.11.3 and an `async_safe`
    # callback; 3.12 has no `__del__`). Harmless, and no result of ours; only its timing is random.
    message = r"Exception ignored in. <function CallbackList.__del__"
    config.addinivalue_line("filterwarnings", f"ignore:{message}:pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.clear_session(free_memory=False)  # a full gc pass per test costs ~0.3 s
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
