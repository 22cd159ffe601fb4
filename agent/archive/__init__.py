"""The archive: a durable, searchable history of every analysed window beside Redis
(LanceDB table plus thumbnail files, in a directory or on S3)."""
