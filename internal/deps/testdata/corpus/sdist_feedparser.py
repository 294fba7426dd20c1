# category: sdist
# exit: 0
# stdout: News
import feedparser

feed = feedparser.parse("<rss version='2.0'><channel><title>News</title></channel></rss>")
print(feed.feed.title)
