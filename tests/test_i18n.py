from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from metrics.formatting import ago, grouped, number, percent
from metrics.models import Indicator, Metric, TrainedModel, Verdict
from tests.data import rule_data
from tests.factories import PASSWORD, IndicatorFactory

LOGIN_URL = reverse("accounts:login")


def choose_portuguese(client: Client, next_url: str = LOGIN_URL):
    return client.post(reverse("set_language"), {"language": "pt-br", "next": next_url})


def test_the_compiled_catalogue_words_messages_and_plurals_in_portuguese() -> None:
    # What a Portuguese reader is shown comes from the compiled catalogue, plural forms included.
    one = "Nothing was imported: the file has %(count)d error."
    many = "Nothing was imported: the file has %(count)d errors."
    with translation.override("pt-br"):
        assert gettext("New here?") == "É novo?"
        assert ngettext(one, many, 1) % {"count": 1} == "Nada foi importado: o arquivo tem 1 erro."
        assert ngettext(one, many, 2) % {"count": 2} == "Nada foi importado: o arquivo tem 2 erros."


def test_anonymous_visitor_can_switch_the_login_page_to_portuguese(client: Client, db: None) -> None:
    english = client.get(LOGIN_URL)
    assert english.status_code == 200
    assert "New here?" in english.content.decode()

    response = choose_portuguese(client)

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pt-br"
    portuguese = client.get(LOGIN_URL)
    assert portuguese.status_code == 200
    html = portuguese.content.decode()
    assert '<html lang="pt-br">' in html
    assert "É novo?" in html
    assert "Cadastre-se" in html
    assert "New here?" not in html
    assert '<option value="pt-br" lang="pt-br" selected>Português</option>' in html
    assert '<option value="en" lang="en">English</option>' in html  # each under its own name


def test_language_switch_is_offered_on_the_login_page(client: Client, db: None) -> None:
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert '<option value="pt-br" lang="pt-br">Português</option>' in html


def test_language_choice_survives_logging_in(client: Client, owner: User) -> None:
    choose_portuguese(client)

    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("metrics:list"), 302)]
    html = response.content.decode()
    assert "Que bom te ver, owner!" in html
    assert "Good to see you" not in html


def test_wrong_password_is_explained_in_portuguese(client: Client, owner: User) -> None:
    choose_portuguese(client)

    response = client.post(LOGIN_URL, {"username": "owner", "password": "wrong"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Please enter a correct username" not in html
    assert "Por favor, entre com um usuário" in html


def test_signup_page_and_password_errors_are_in_portuguese(client: Client, db: None) -> None:
    choose_portuguese(client)

    response = client.post(
        reverse("accounts:signup"), {"username": "ana", "password1": "password", "password2": "password"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Esta senha é muito comum." in html
    assert "This password is too common." not in html
    assert not User.objects.filter(username="ana").exists()


def test_metric_list_is_in_portuguese(client: Client, owner: User, metric: Metric) -> None:
    metric.import_indicators(rule_data(20), owner)  # something to train: the banner's button shows
    client.force_login(owner)
    choose_portuguese(client, reverse("metrics:list"))

    response = client.get(reverse("metrics:list"))

    assert response.status_code == 200
    html = response.content.decode()

    for portuguese in [
        "Que bom te ver, owner!",
        "Quanto mais informações fornecer ao modelo, melhor!",
        "Treinar os modelos",
        "Nome contém",
        "Categoria contém",
        "Criar métrica",
        "Não treinado",
        "Sair",
    ]:
        assert portuguese in html, portuguese
    for english in ["Good to see you", "The more information", "Train the models", "Name contains", "Not trained"]:
        assert english not in html, english


def test_metric_page_shows_decisions_and_numbers_the_brazilian_way(client: Client, owner: User, metric: Metric) -> None:
    IndicatorFactory.create(metric=metric, value=612.5, decision=1, time=7.25)
    client.force_login(owner)
    choose_portuguese(client)

    response = client.get(metric.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert "Baixar arquivo CSV" in html
    assert "Ainda não há modelo. Insira dados e clique em Treinar." in html
    assert "612,5" in html
    assert "7,25" in html
    assert "Download CSV" not in html


def test_flash_messages_are_in_portuguese(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)
    choose_portuguese(client)

    response = client.post(
        reverse("metrics:add_indicator", args=[metric.pk]), {"value": 1, "decision": 1, "minutes": 1}, follow=True
    )

    assert response.status_code == 200
    assert response.redirect_chain == [(metric.get_absolute_url(), 302)]
    html = response.content.decode()
    assert "Indicador adicionado." in html
    assert "Indicator added." not in html
    assert Indicator.objects.count() == 1


def test_form_errors_are_in_portuguese(client: Client, owner: User, metric: Metric) -> None:
    client.force_login(owner)
    choose_portuguese(client)

    response = client.post(
        reverse("metrics:add_indicator", args=[metric.pk]), {"value": "", "decision": 1, "minutes": 1}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Este campo é obrigatório." in html
    assert "This field is required." not in html
    assert not Indicator.objects.exists()


def test_upload_errors_are_in_portuguese(client: Client, owner: User, metric: Metric) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(owner)
    choose_portuguese(client)
    content = b"valor,decisao,tempo\n500,0,10\n700,2,30\n"

    response = client.post(
        reverse("metrics:upload"),
        {"metric": metric.pk, "delimiter": "detect", "file": SimpleUploadedFile("x.csv", content)},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nada foi importado: o arquivo tem 1 erro." in html
    assert "Linha 3, coluna “decisao”" in html
    assert not Indicator.objects.exists()


def predict_in_portuguese(client: Client, user: User, metric: Metric, value: int):
    """`user`, having chosen Portuguese, asks for a verdict on `value` at 30 minutes: the page it leads to."""
    client.force_login(user)
    choose_portuguese(client)
    return client.post(reverse("metrics:predict"), {"metric": metric.pk, "value": value, "minutes": 30}, follow=True)


def test_prediction_is_in_portuguese_with_a_decimal_comma(client: Client, owner: User, trained_metric: Metric) -> None:
    model = TrainedModel.objects.get(metric=trained_metric)

    response = predict_in_portuguese(client, owner, trained_metric, value=200)

    assert response.status_code == 200
    assert response.redirect_chain == [(Verdict.objects.get().get_absolute_url(), 302)]
    html = response.content.decode()
    assert "Rollback recomendado" in html
    assert "Rollback recommended" not in html
    assert "casos passados semelhantes tiveram rollback." in html
    assert "similar past cases" not in html
    with translation.override("pt-br"):
        accuracy = percent(model.accuracy)
    assert "," in accuracy
    assert f"Versão 1 do modelo, {accuracy} de acurácia em dados que não viu." in html


def test_an_inconclusive_verdict_gives_its_reasons_in_portuguese(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    model = TrainedModel.objects.get(metric=trained_metric)

    response = predict_in_portuguese(client, owner, trained_metric, value=5000)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Inconclusivo" in html
    assert "Inconclusive" not in html
    # Reasons are stored as codes and figures, and worded in the reader's language when shown.
    with translation.override("pt-br"):
        low, high = number(model.value_min), number(model.value_max)
    assert "," in low + high
    assert f"O valor 5000 está fora do que o modelo já viu ({low} a {high})." in html
    assert "lies outside what the model has seen" not in html


@pytest.mark.parametrize("status", [403, 404])
def test_error_pages_are_in_portuguese(client: Client, stranger: User, metric: Metric, status: int) -> None:
    client.force_login(stranger)
    choose_portuguese(client)

    if status == 403:
        response = client.post(reverse("metrics:delete", args=[metric.pk]))
        english = ["You are not allowed to do that", "Only the metric&#x27;s owner may delete it."]
        portuguese = ["Você não tem permissão para fazer isso", "Só o dono da métrica pode excluí-la."]
    else:
        response = client.get(reverse("metrics:detail", args=[999_999]))
        english = ["Page not found", "It may have been deleted"]
        portuguese = ["Página não encontrada", "Ela pode ter sido excluída, ou o endereço está errado."]

    assert response.status_code == status
    html = response.content.decode()
    assert '<html lang="pt-br">' in html
    for text in [*portuguese, "Voltar às métricas"]:
        assert text in html, text
    for text in [*english, "Back to the metrics"]:
        assert text not in html, text
    assert Metric.objects.filter(pk=metric.pk).exists()


def test_signup_delete_confirmation_and_indicator_form_are_fully_in_portuguese(
    client: Client, owner: User, trained_metric: Metric
) -> None:
    choose_portuguese(client)
    signup = client.get(reverse("accounts:signup"))
    client.force_login(owner)
    confirm = client.get(reverse("metrics:delete", args=[trained_metric.pk]))
    detail = client.get(trained_metric.get_absolute_url())

    assert signup.status_code == confirm.status_code == detail.status_code == 200
    signup_html, confirm_html, detail_html = (page.content.decode() for page in (signup, confirm, detail))
    assert "Criar conta" in signup_html
    assert "Create account" not in signup_html
    assert "Seus 200 indicadores serão excluídos." in confirm_html
    assert "Seu 1 modelo treinado será excluído." in confirm_html
    assert "indicators will be deleted" not in confirm_html
    assert "trained model will be deleted" not in confirm_html
    assert "Selecione…" in detail_html
    assert "Choose…" not in detail_html


def test_switching_back_to_english(client: Client, owner: User) -> None:
    client.force_login(owner)
    choose_portuguese(client)

    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("metrics:list"))

    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert page.status_code == 200
    html = page.content.decode()
    assert "Good to see you, owner!" in html
    assert "Que bom te ver" not in html


def test_unusable_model_message_is_in_portuguese(client: Client, owner: User, trained_metric: Metric) -> None:
    TrainedModel.objects.filter(metric=trained_metric).update(sklearn_version="0.24.2")
    client.force_login(owner)
    choose_portuguese(client)

    response = client.post(reverse("metrics:predict"), {"metric": trained_metric.pk, "value": 200, "minutes": 30})

    assert response.status_code == 200
    assert not Verdict.objects.exists()
    html = response.content.decode()
    assert "cannot be used" not in html
    assert "another version of scikit-learn" not in html
    assert (
        "A versão 1 do modelo de “Requests per minute” não pode ser usada: ele foi feito por uma versão do "
        "scikit-learn diferente da que este servidor roda. Treine de novo."
    ) in html


def test_an_expired_form_is_explained_in_portuguese(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"  # the switch is a form too

    response = client.post(reverse("metrics:create"), {"name": "Error rate", "category": "Reliability"})

    assert response.status_code == 403
    html = response.content.decode()
    assert "Este formulário expirou" in html
    assert "recarregue a página e envie o formulário de novo" in html
    assert "DEBUG" not in html
    assert not Metric.objects.exists()


def test_a_request_that_cannot_be_read_is_explained_in_portuguese(client: Client, owner: User, settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client.force_login(owner)
    choose_portuguese(client)

    response = client.post(reverse("metrics:create"), {f"field{number}": "x" for number in range(20)})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Não foi possível ler esta requisição" in html
    assert "Bad Request" not in html
    assert not Metric.objects.exists()


def test_a_server_error_is_explained_in_portuguese(owner: User) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"

    with mock.patch.object(Metric.objects, "visible_to", side_effect=RuntimeError("a bug")):
        response = client.get(reverse("metrics:list"))

    assert response.status_code == 500
    html = response.content.decode()
    assert "Algo deu errado do nosso lado" in html
    assert "Voltar às métricas" in html


def test_a_moment_under_a_minute_ago_reads_just_now_and_later_ones_have_plurals() -> None:
    now = timezone.now()
    with translation.override("en"):
        assert ago(now - timedelta(seconds=20)) == "just now"
        assert ago(now - timedelta(minutes=2, seconds=5)).replace("\xa0", " ") == "2 minutes ago"
    with translation.override("pt-br"):
        assert ago(now - timedelta(seconds=20)) == "agora mesmo"
        assert ago(now - timedelta(minutes=1, seconds=5)).replace("\xa0", " ") == "há 1 minuto"


def test_counts_have_the_languages_thousands_separator() -> None:
    with translation.override("en"):
        assert grouped(120_000) == "120,000"
    with translation.override("pt-br"):
        assert grouped(120_000) == "120.000"


CATALOGUE_IGNORES = [".venv", ".venv/*", "tests", "bench", "staticfiles", "test-artifacts", ".broker"]


def test_every_message_of_the_code_has_its_portuguese_and_the_compiled_catalogue_is_current(tmp_path) -> None:
    # Strings added by hand to the catalogue, or marked in a way makemessages does not see
    # (an alias of gettext_lazy), are lost at its next run (obsolete); a string without its translation
    # shows in English on a Portuguese page. Extract into a copy, as a translator would.
    for tool in ("xgettext", "msgattrib", "msgfmt"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: install GNU gettext (`apt-get install gettext`, or `make test`).")
    copy = tmp_path / "project"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "staticfiles", "test-artifacts", ".broker", "*.sqlite3"),
    )
    ignores = [argument for pattern in CATALOGUE_IGNORES for argument in ("--ignore", pattern)]
    subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "manage.py", "makemessages", "-l", "pt_BR", *ignores],
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=120,
    )
    catalogue = copy / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"

    def entries(*flags: str) -> list[str]:
        found = subprocess.run(  # noqa: S603 - gettext's own tool
            ["msgattrib", *flags, "--no-wrap", str(catalogue)],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return [line for line in found.splitlines() if line.startswith("msgid ") and line != 'msgid ""']

    assert entries("--untranslated") == []
    assert entries("--only-fuzzy") == []
    assert entries("--only-obsolete") == []
    compiled = subprocess.run(  # noqa: S603 - gettext's own tool
        ["msgfmt", "--check", "-o", "-", str(settings.BASE_DIR / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po")],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    assert (settings.BASE_DIR / "locale" / "pt_BR" / "LC_MESSAGES" / "django.mo").read_bytes() == compiled
