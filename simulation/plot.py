"""The per-day plot of a comparison (matplotlib, Agg backend: no display needed)."""
import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PANELS = (
    ("ctr", "CTR per impression", 100.0, "%"),
    ("engaged_per_user_day", "Engaged actions per user-day", 1.0, ""),
    ("repeated_feed_share", "Feeds with a repeated market", 100.0, "%"),
    ("coverage", "Catalog coverage", 100.0, "%"),
    ("diversity_top9", "Categories in the first 9", 1.0, ""),
    ("intent_next_feed", "Session intent in the next feed", 100.0, "%"),
)


def comparison_plot(results, path, title=""):
    """One panel per metric, one line per arm, simulated days on the x axis; written to `path` (PNG)."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    for ax, (key, label, scale, unit) in zip(axes.flat, PANELS, strict=True):
        for arm in results:
            days = arm["summary"]["per_day"]
            ax.plot(range(1, len(days) + 1), [d[key] * scale for d in days], marker="o", markersize=3,
                    label=arm["name"])
        ax.set_title(label)
        ax.set_xlabel("simulated day")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if unit:
            ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
