"""Running impUnit-style Squirrel tests locally: Builder preprocessing, #require resolution,
test configuration and discovery."""
