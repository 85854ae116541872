"""Markets related to one market X: by content, by co-engagement and by the same question. Pure.

Content is TF-IDF (scikit-learn) over each market's title, category and tag labels, cosine against
X's; co-engagement is how many of the users who engaged with X also engaged with a market, decayed
by age (loaded by personalization.selectors.coengagement_load); the same question is the market's
near-duplicate group (the outcomes of one event, the same title for another date or threshold).
A brand-new market with no engagement is related by content and question alone. docs/ranking.md.
"""
import threading
from datetime import timedelta

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

# How the three relations blend (each in [0, 1]): content leads, since it exists for every market.
CONTENT, COENGAGEMENT, SAME_QUESTION = 0.55, 0.30, 0.15
RELATED_DEPTH = 200  # the related candidates the feed's pools draw from
# Co-engagement: the engagements of the last 30 days, each weighted 2^(-age / 7 days), by the market's
# latest engagers (they are enough to say what else its audience engages with), summed per market; the
# heaviest markets are kept (the related pools draw from RELATED_DEPTH).
COENGAGEMENT_WINDOW = timedelta(days=30)
COENGAGEMENT_HALF_LIFE_SECONDS = 7 * 86400.0
COENGAGEMENT_USERS = 300
COENGAGEMENT_MARKETS = 1000
# Co-engagement read from n engagers of X counts n / (n + 10) of its weight: with one or two, what else
# they engaged with is mostly their other interests (on simulated traffic it lowered the blend's
# precision, bench/related_quality.py), with dozens it is X's audience.
COENGAGEMENT_PRIOR_USERS = 10


def content_texts(catalog):
    """Each market's text for content: its title, category and tag labels."""
    pad = len(catalog.tag_slugs)
    return [
        " ".join([catalog.title[i], catalog.categories[catalog.category[i]],
                  *(catalog.tag_labels[t] for t in catalog.tags[i] if t != pad)])
        for i in range(len(catalog))
    ]


class _ContentMemo:
    """The last TF-IDF fitted and the texts it was fitted on. A catalog refresh (every minute or so, the
    trend moving) nearly always has the same texts in the same order: comparing them costs a few ms,
    a fit about 1 s at 20,000 markets. `fits` counts the fits (the tests read it)."""

    def __init__(self):
        self.texts, self.matrix, self.fits = None, None, 0
        self.lock = threading.Lock()

    def get(self, texts):
        with self.lock:
            if texts != self.texts:
                vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", ngram_range=(1, 2), min_df=1)
                self.matrix = vectorizer.fit_transform(texts) if texts else None
                self.texts = texts
                self.fits += 1
            return self.matrix


_content = _ContentMemo()


def content_matrix(catalog):
    """The catalog's TF-IDF rows (L2-normalised, so a product is a cosine), once per catalog.

    The feed's catalog is given them when it is built or refreshed (personalization.selectors.catalog_build),
    so no request pays for them; a Catalog built another way (a bench, a test) gets them on first use."""
    matrix = getattr(catalog, "_related_tfidf", None)
    if matrix is None:
        matrix = catalog._related_tfidf = _content.get(content_texts(catalog))
    return matrix


def content_fits():
    """How many times a TF-IDF has been fitted in this process."""
    return _content.fits


def related_components(catalog, x, coengaged, *, engagers):
    """(content, co-engagement, same question): each market's three relations to the market at catalog
    index `x`, each in [0, 1]. `coengaged`: {catalog index: decayed co-engagement weight}, read from
    `engagers` users who engaged with X; scaled here so that the most co-engaged market is
    engagers / (engagers + 10)."""
    n = len(catalog)
    matrix = content_matrix(catalog)
    content = np.asarray((matrix @ matrix[x].T).toarray()).ravel() if matrix is not None else np.zeros(n)
    co = np.zeros(n)
    if coengaged:
        index = np.fromiter(coengaged, dtype=np.int64)
        co[index] = np.fromiter(coengaged.values(), dtype=float)
        co *= engagers / (engagers + COENGAGEMENT_PRIOR_USERS) / co.max()
    groups = catalog.question_group
    same = (groups == groups[x]).astype(float)
    return content, co, same


def related_scores(catalog, x, coengaged, *, engagers):
    """Each market's relatedness to the market at catalog index `x`, in [0, 1]; X itself -inf.

    `coengaged`: {catalog index: decayed co-engagement weight} read from `engagers` users."""
    content, co, same = related_components(catalog, x, coengaged, engagers=engagers)
    scores = CONTENT * content + COENGAGEMENT * co + SAME_QUESTION * same
    scores[x] = -np.inf
    return scores
