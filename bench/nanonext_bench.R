# nanonext_bench.R: the "R nanonext" column of `nanoact bench`.
#
# The R counterpart of bench/nngbench.c, with the same arguments and the same
# one-line output ("system=nanonext ver=... key=value ..."), which is all
# `nanoact bench` reads. Both ends live in this one R process; R has one
# thread, so this process alternates between the two ends while NNG's own
# threads (inside nanonext) move the bytes. That is what an R session using
# nanonext gets: every message crosses R (a raw vector in, a raw vector out).
#
#   Rscript nanonext_bench.R lat URL SIZE COUNT
#       req -> rep round trips of SIZE bytes: send(req), recv(rep),
#       send(rep) echoing the raw vector received, recv(req), all blocking,
#       mode = "raw" (no R serialisation). Prints rtt_us, the mean of COUNT
#       timed trips after a warm-up of min(COUNT/10, 1000).
#   Rscript nanonext_bench.R thr URL SIZE COUNT [BUF]
#       push -> pull of COUNT messages of SIZE bytes. The push end sends
#       without blocking until NNG refuses (try again) and the pull end then
#       takes one message (blocking); the clock runs from the first message
#       received to the last, as NNG's local_thr, so COUNT-1 are timed.
#       BUF (default 128) sets send-buffer and recv-buffer in messages:
#       with one R thread, the buffers are what lets the sends run ahead of
#       the receives.
#
# Needs the nanonext package (install.packages("nanonext")); exits with
# status 2 and a message on stderr when it is missing.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 4L || !(args[[1L]] %in% c("lat", "thr"))) {
  cat("usage: Rscript nanonext_bench.R lat|thr URL SIZE COUNT [BUF]\n", file = stderr())
  quit(status = 2L)
}
if (!requireNamespace("nanonext", quietly = TRUE)) {
  cat("nanonext_bench.R: the nanonext package is not installed\n", file = stderr())
  quit(status = 2L)
}
suppressPackageStartupMessages(library(nanonext))

mode <- args[[1L]]
url <- args[[2L]]
size <- as.integer(args[[3L]])
count <- as.integer(args[[4L]])
buf <- if (length(args) >= 5L) as.integer(args[[5L]]) else 128L
if (is.na(size) || size < 1L || is.na(count) || count < 1L || is.na(buf) || buf < 0L) {
  cat("nanonext_bench.R: bad SIZE, COUNT or BUF\n", file = stderr())
  quit(status = 2L)
}

die <- function(what, res) {
  cat(sprintf("nanonext_bench.R: %s: %s\n", what, nng_error(res)), file = stderr())
  quit(status = 1L)
}

# connect dials url from s synchronously (autostart = NA), so the first
# timed message does not wait for the connection.
connect <- function(s) {
  r <- suppressWarnings(dial(s, url = url, autostart = NA))
  if (is_error_value(r)) die("dial", r)
}

version <- as.character(utils::packageVersion("nanonext"))
payload <- as.raw(seq_len(size) %% 256L)
now <- function() as.numeric(Sys.time()) # µs resolution on Linux

if (mode == "lat") {
  rep <- socket("rep", listen = url)
  req <- socket("req")
  connect(req)
  trip <- function() {
    r <- send(req, payload, mode = "raw", block = TRUE)
    if (is_error_value(r)) die("req send", r)
    m <- recv(rep, mode = "raw", block = TRUE)
    if (is_error_value(m)) die("rep recv", m)
    r <- send(rep, m, mode = "raw", block = TRUE)
    if (is_error_value(r)) die("rep send", r)
    m <- recv(req, mode = "raw", block = TRUE)
    if (is_error_value(m)) die("req recv", m)
    if (length(m) != size) die("req recv", 5L)
  }
  for (i in seq_len(min(count %/% 10L, 1000L))) trip()
  t0 <- now()
  for (i in seq_len(count)) trip()
  t1 <- now()
  close(req)
  close(rep)
  cat(sprintf("system=nanonext ver=%s mode=lat size=%d count=%d rtt_us=%.3f\n",
              version, size, count, (t1 - t0) / count * 1e6))
} else {
  pull <- socket("pull", listen = url)
  push <- socket("push")
  if (buf > 0L) {
    opt(pull, "recv-buffer") <- buf
    opt(push, "send-buffer") <- buf
  }
  connect(push)
  sent <- 0L
  got <- 0L
  t0 <- 0
  while (got < count) {
    # Run the sends ahead while NNG takes them; block only when nothing is
    # in flight (at the start, before the pipe is up), so a receive below
    # always has a message coming.
    while (sent < count) {
      r <- send(push, payload, mode = "raw", block = sent == got)
      if (is_error_value(r)) {
        if (sent > got && r == 8L) break # try again: the buffers are full
        die("push send", r)
      }
      sent <- sent + 1L
    }
    m <- recv(pull, mode = "raw", block = TRUE)
    if (is_error_value(m)) die("pull recv", m)
    if (length(m) != size) die("pull recv", 5L)
    got <- got + 1L
    if (got == 1L) t0 <- now()
  }
  t1 <- now()
  close(push)
  close(pull)
  timed <- count - 1L
  mps <- if (timed > 0L && t1 > t0) timed / (t1 - t0) else 0
  cat(sprintf("system=nanonext ver=%s mode=thr size=%d count=%d buf=%d total_s=%.6f msgs_per_s=%.1f mb_per_s=%.3f\n",
              version, size, count, buf, t1 - t0, mps, mps * size / 1e6))
}
