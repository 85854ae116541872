"""Markets related to one market X: by content, by co-engagement and by the same question. Pure.

Content is TF-IDF (scikit-learn) over each market's title, category and tag labels, cosine against
X's; co-engagement is how many of the users who engaged with X also engaged with a market, decayed
by age (loaded by personalization.selectors.coengagement_load); the same question is the market's
near-duplicate group (the outcomes of one event, the same title for another date or threshold).
A brand-new market with no engagement is related by content and question alone. docs/ranking.md.
"""
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

# How the three relations blend (each in [0, 1]): content leads, since it exists for every market.
CONTENT, COENGAGEMENT, SAME_QUESTION = 0.55, 0.30, 0.15
RELATED_DEPTH = 200  # the related candidates the feed's pools draw from


def content_matrix(catalog):
    """The catalog's TF-IDF rows (L2-normalised, so a product is a cosine), built once per catalog."""
    matrix = getattr(catalog, "_related_tfidf", None)
    if matrix is None:
        pad = len(catalog.tag_slugs)
        texts = [
            " ".join([catalog.title[i], catalog.categories[catalog.category[i]],
                      *(catalog.tag_labels[t] for t in catalog.tags[i] if t != pad)])
            for i in range(len(catalog))
        ]
        vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", ngram_range=(1, 2), min_df=1)
        matrix = vectorizer.fit_transform(texts) if texts else None
        catalog._related_tfidf = matrix
    return matrix


def related_scores(catalog, x, coengaged):
    """Each market's relatedness to the market at catalog index `x`, in [0, 1]; X itself -inf.

    `coengaged`: {catalog index: decayed co-engagement weight}."""
    n = len(catalog)
    matrix = content_matrix(catalog)
    content = np.asarray((matrix @ matrix[x].T).toarray()).ravel() if matrix is not None else np.zeros(n)
    co = np.zeros(n)
    if coengaged:
        index = np.fromiter(coengaged, dtype=np.int64)
        co[index] = np.fromiter(coengaged.values(), dtype=float)
        co /= co.max()
    groups = catalog.question_group
    same = (groups == groups[x]).astype(float)
    scores = CONTENT * content + COENGAGEMENT * co + SAME_QUESTION * same
    scores[x] = -np.inf
    return scores
