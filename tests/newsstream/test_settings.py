import os

from newsstream.settings import Settings, default_state_dir


def test_state_dir_is_in_the_checkout_when_other_users_can_reach_it(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for path in (checkout, *checkout.parents):
        if not os.access(path, os.W_OK):
            break
        path.chmod(path.stat().st_mode | 0o001)
    assert default_state_dir(checkout, euid=0) == checkout / ".stack"
    assert default_state_dir(checkout, euid=1000) == checkout / ".stack"


def test_as_root_in_a_private_checkout_the_state_moves_where_the_service_user_can_reach_it(tmp_path):
    private = tmp_path / "home"
    checkout = private / "checkout"
    checkout.mkdir(parents=True)
    private.chmod(0o700)
    moved = default_state_dir(checkout, euid=0)
    assert moved.parent.as_posix() == "/var/lib/newsstream" and moved == default_state_dir(checkout, euid=0)
    assert default_state_dir(checkout, euid=1000) == checkout / ".stack"


def test_settings_read_the_environment_with_the_prefix(monkeypatch):
    monkeypatch.setenv("NEWSSTREAM_KAFKA_PORT", "19092")
    monkeypatch.setenv("NEWSSTREAM_ELASTICSEARCH_API_KEY", "s3cret")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "localhost:19092"
    assert "s3cret" not in repr(settings) and settings.elasticsearch_api_key.get_secret_value() == "s3cret"
