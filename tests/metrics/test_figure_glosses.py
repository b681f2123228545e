"""The terms on the model card and the metric page ("balanced accuracy", "nested
cross-validation", "confusion matrix"…) each come with a one-line gloss, in both languages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from metrics.models import Metric

GLOSSES = {
    "en": {
        "card": [
            "Nested cross-validation: the cases are split into parts",
            "The share of held-out cases it decided as people did.",
            "The mean of its accuracy on rollbacks and on rollouts: always giving the common answer scores 50%.",
            "the diagonal is where it was right.",
            "Depth: how many questions in a row the tree may ask; leaves: its final answers.",
        ],
        "metric": [
            "What these figures mean",
            "The share of held-out cases it decided as people did.",
            "The accuracy of always giving the most common decision: a model must beat it.",
            "The mean of its accuracy on rollbacks and on rollouts",
            "Of the rollbacks it called, the share that were rollbacks; of the real rollbacks, the share it caught.",
        ],
    },
    "pt-br": {
        "card": [
            "Validação cruzada aninhada: os casos são divididos em partes",
            "A parcela dos casos deixados de fora que ele decidiu como as pessoas decidiram.",
            "A média da acurácia nos rollbacks e nos rollouts: dar sempre a resposta mais comum dá 50%.",
            "a diagonal é onde ele acertou.",
            "Profundidade: quantas perguntas seguidas a árvore pode fazer; folhas: as respostas finais dela.",
        ],
        "metric": [
            "O que estes números significam",
            "A parcela dos casos deixados de fora que ele decidiu como as pessoas decidiram.",
            "A acurácia de dar sempre a decisão mais comum: um modelo precisa superá-la.",
            "A média da acurácia nos rollbacks e nos rollouts",
            "Dos rollbacks que ele indicou, a parcela que era rollback; dos rollbacks reais, a parcela que ele pegou.",
        ],
    },
}


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_the_model_card_and_the_metric_page_gloss_their_terms(
    client: Client, trained_metric: Metric, owner: User, language: str
) -> None:
    client.force_login(owner)
    client.cookies["django_language"] = language
    model = trained_metric.trained_models.get()

    card = client.get(reverse("metrics:model_card", args=[model.pk])).content.decode()
    page = client.get(trained_metric.get_absolute_url()).content.decode()

    for gloss in GLOSSES[language]["card"]:
        assert gloss in card
    for gloss in GLOSSES[language]["metric"]:
        assert gloss in page
