import keras
import pytest


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.clear_session(free_memory=False)  # a full gc pass per test costs ~0.3 s
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
