/*
 * nngbench: the C NNG column of `nanoact bench`.
 *
 * Both ends run in this one process (the far end on a second thread), so a
 * figure is comparable with the Go systems, which also keep both ends in
 * one process. Each run prints one line of key=value pairs starting with
 * "system=nng"; `nanoact bench` reads that line and nothing else.
 *
 *   nngbench lat URL SIZE COUNT        req0 -> rep0 round trips of SIZE
 *                                      bytes; prints rtt_us, the mean of
 *                                      COUNT timed trips after a warm-up
 *                                      of min(COUNT/10, 1000).
 *   nngbench thr URL SIZE COUNT [BUF]  push0 -> pull0 of COUNT messages;
 *                                      the clock runs from the first
 *                                      message received to the last, as
 *                                      NNG's local_thr, so COUNT-1 are
 *                                      timed. BUF > 0 sets send-buffer
 *                                      and recv-buffer (messages).
 *   nngbench dev URL SIZE COUNT        push0 -> pull0 of COUNT messages
 *                                      twice in the same run: directly,
 *                                      and through nng_device (push0 ->
 *                                      raw pull0 | raw push0 -> pull0, two
 *                                      connections, the device on a thread
 *                                      of its own), in alternating rounds
 *                                      of 256 messages after one warm-up
 *                                      round each, so that both see the
 *                                      same load; as BenchmarkDevice's
 *                                      "ratio" in package aio. Each round
 *                                      is timed from the start of its
 *                                      sender to the last message
 *                                      received. Prints x_direct, the
 *                                      device's time over the direct one's,
 *                                      and cpu_x_direct, the same for the
 *                                      process's CPU time. All buffers are
 *                                      NNG's defaults. URL is
 *                                      tcp://HOST:0 (each listener gets a
 *                                      free port) or ipc://PATH (PATH-direct,
 *                                      PATH-in and PATH-out are used).
 *
 * Build (Debian: apt-get install libnng-dev):
 *   cc -O2 -o nngbench nngbench.c -lnng -lpthread
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

struct run {
	size_t      size;
	long        count; /* messages the far end handles */
	int         rv; /* the far end's first failure, 0 if none */
	nng_socket  sock;
};

static void
die(const char *what, int rv)
{
	fprintf(stderr, "nngbench: %s: %s\n", what, nng_strerror(rv));
	exit(1);
}

/* clock_s reads clock id in seconds. */
static double
clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double
now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* listen_on binds s to url; the near end dials once this returns, so the
 * far end is listening before anyone connects. */
static void
listen_on(nng_socket s, const char *url)
{
	int rv;
	if ((rv = nng_listen(s, url, NULL, 0)) != 0) {
		die("listen", rv);
	}
}

static void
dial_to(nng_socket s, const char *url)
{
	int rv;
	/* Synchronous dial: the first send has a pipe to go to. */
	if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
		die("dial", rv);
	}
}

/* far_end runs fn on r with socket s on a thread of its own. */
static void
far_end(pthread_t *th, struct run *r, nng_socket s, void *(*fn)(void *))
{
	r->sock = s;
	if (pthread_create(th, NULL, fn, r) != 0) {
		fprintf(stderr, "nngbench: pthread_create failed\n");
		exit(1);
	}
}

/* echo_loop is the rep side: it answers every request with the same
 * message until it has answered r->count of them. */
static void *
echo_loop(void *arg)
{
	struct run *r = arg;
	for (long i = 0; i < r->count; i++) {
		nng_msg *m;
		int      rv;
		if ((rv = nng_recvmsg(r->sock, &m, 0)) != 0) {
			r->rv = rv;
			return NULL;
		}
		if ((rv = nng_sendmsg(r->sock, m, 0)) != 0) {
			nng_msg_free(m);
			r->rv = rv;
			return NULL;
		}
	}
	return NULL;
}

static void
latency(const char *url, size_t size, long count)
{
	long       warm = count / 10 < 1000 ? count / 10 : 1000;
	struct run r    = { .size = size, .count = warm + count };
	nng_socket rep, req;
	pthread_t  th;
	int        rv;

	if ((rv = nng_rep0_open(&rep)) != 0) {
		die("rep0 open", rv);
	}
	if ((rv = nng_req0_open(&req)) != 0) {
		die("req0 open", rv);
	}
	listen_on(rep, url);
	dial_to(req, url);
	far_end(&th, &r, rep, echo_loop);

	double start = 0;
	for (long i = 0; i < warm + count; i++) {
		nng_msg *m;
		if (i == warm) {
			start = now_s();
		}
		if ((rv = nng_msg_alloc(&m, size)) != 0) {
			die("msg alloc", rv);
		}
		if ((rv = nng_sendmsg(req, m, 0)) != 0) {
			die("send", rv);
		}
		if ((rv = nng_recvmsg(req, &m, 0)) != 0) {
			die("recv", rv);
		}
		if (nng_msg_len(m) != size) {
			fprintf(stderr, "nngbench: reply of %zu bytes, want %zu\n", nng_msg_len(m), size);
			exit(1);
		}
		nng_msg_free(m);
	}
	double total = now_s() - start;
	pthread_join(th, NULL);
	if (r.rv != 0) {
		die("rep side", r.rv);
	}
	nng_close(req);
	nng_close(rep);
	printf("system=nng ver=%s case=lat url=%s size=%zu n=%ld total_s=%.4f rtt_us=%.3f\n",
	    nng_version(), url, size, count, total, total * 1e6 / (double) count);
}

/* push_loop is the push side of a throughput run. */
static void *
push_loop(void *arg)
{
	struct run *r = arg;
	for (long i = 0; i < r->count; i++) {
		nng_msg *m;
		int      rv;
		if ((rv = nng_msg_alloc(&m, r->size)) != 0) {
			r->rv = rv;
			return NULL;
		}
		if ((rv = nng_sendmsg(r->sock, m, 0)) != 0) {
			nng_msg_free(m);
			r->rv = rv;
			return NULL;
		}
	}
	return NULL;
}

static void
set_buffers(nng_socket s, int buf)
{
	int rv;
	if (buf <= 0) {
		return;
	}
	if ((rv = nng_socket_set_int(s, NNG_OPT_SENDBUF, buf)) != 0) {
		die("send-buffer", rv);
	}
	if ((rv = nng_socket_set_int(s, NNG_OPT_RECVBUF, buf)) != 0) {
		die("recv-buffer", rv);
	}
}

static void
throughput(const char *url, size_t size, long count, int buf)
{
	struct run r = { .size = size, .count = count };
	nng_socket pull, push;
	pthread_t  th;
	int        rv;

	if (count < 2) {
		fprintf(stderr, "nngbench: thr needs COUNT >= 2\n");
		exit(2);
	}
	if ((rv = nng_pull0_open(&pull)) != 0) {
		die("pull0 open", rv);
	}
	if ((rv = nng_push0_open(&push)) != 0) {
		die("push0 open", rv);
	}
	set_buffers(pull, buf);
	set_buffers(push, buf);
	listen_on(pull, url);
	dial_to(push, url);
	far_end(&th, &r, push, push_loop);

	double start = 0;
	for (long i = 0; i < count; i++) {
		nng_msg *m;
		if ((rv = nng_recvmsg(pull, &m, 0)) != 0) {
			die("recv", rv);
		}
		if (i == 0) {
			start = now_s();
		}
		if (nng_msg_len(m) != size) {
			fprintf(stderr, "nngbench: message of %zu bytes, want %zu\n", nng_msg_len(m), size);
			exit(1);
		}
		nng_msg_free(m);
	}
	double total = now_s() - start;
	pthread_join(th, NULL);
	if (r.rv != 0) {
		die("push side", r.rv);
	}
	nng_close(push);
	nng_close(pull);
	double mps = (double) (count - 1) / total;
	printf("system=nng ver=%s case=thr url=%s size=%zu n=%ld buf=%d total_s=%.4f msgs_per_s=%.0f MB_per_s=%.1f\n",
	    nng_version(), url, size, count, buf, total, mps, mps * (double) size / 1e6);
}

/* listen_tagged listens on s at base, made distinct by tag (ipc: PATH-tag;
 * tcp: the port the system picked for port 0), and writes the URL to dial
 * into url. */
static void
listen_tagged(nng_socket s, const char *base, const char *tag, char *url, size_t n)
{
	nng_listener l;
	int          rv;
	if (strncmp(base, "ipc://", 6) == 0) {
		snprintf(url, n, "%s-%s", base, tag);
		if ((rv = nng_listen(s, url, NULL, 0)) != 0) {
			die("listen", rv);
		}
		return;
	}
	const char *colon = strrchr(base, ':');
	if (strncmp(base, "tcp://", 6) != 0 || colon == NULL || strcmp(colon, ":0") != 0) {
		fprintf(stderr, "nngbench: dev wants tcp://HOST:0 or ipc://PATH, not %s\n", base);
		exit(2);
	}
	if ((rv = nng_listen(s, base, &l, 0)) != 0) {
		die("listen", rv);
	}
	int port;
	if ((rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port)) != 0) {
		die("bound port", rv);
	}
	snprintf(url, n, "%.*s:%d", (int) (colon - base), base, port);
}

/* cpu_s is the process's CPU time, all threads, in seconds. */
static double
cpu_s(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* pump sends n messages of size bytes on push from a thread, receives them
 * on pull, and adds the time taken to *wall and the CPU time to *cpu. */
static void
pump(nng_socket push, nng_socket pull, size_t size, long n, double *wall, double *cpu)
{
	struct run r = { .size = size, .count = n };
	pthread_t  th;
	int        rv;
	double     t0 = now_s(), c0 = cpu_s();
	far_end(&th, &r, push, push_loop);
	for (long i = 0; i < n; i++) {
		nng_msg *m;
		if ((rv = nng_recvmsg(pull, &m, 0)) != 0) {
			die("recv", rv);
		}
		if (nng_msg_len(m) != size) {
			fprintf(stderr, "nngbench: message of %zu bytes, want %zu\n", nng_msg_len(m), size);
			exit(1);
		}
		nng_msg_free(m);
	}
	*wall += now_s() - t0;
	*cpu += cpu_s() - c0;
	pthread_join(th, NULL);
	if (r.rv != 0) {
		die("push side", r.rv);
	}
}

struct devrun {
	nng_socket in, out;
	int        rv; /* what nng_device returned */
};

static void *
device_loop(void *arg)
{
	struct devrun *d = arg;
	d->rv            = nng_device(d->in, d->out);
	return NULL;
}

static void
device(const char *base, size_t size, long count)
{
	enum { ROUND = 256 };
	nng_socket    dpush, dpull, vpush, vpull;
	struct devrun d = { 0 };
	pthread_t     th;
	char          url[512];
	int           rv;

	if ((rv = nng_pull0_open(&dpull)) != 0 || (rv = nng_push0_open(&dpush)) != 0 ||
	    (rv = nng_pull0_open(&vpull)) != 0 || (rv = nng_push0_open(&vpush)) != 0) {
		die("open", rv);
	}
	if ((rv = nng_pull0_open_raw(&d.in)) != 0 || (rv = nng_push0_open_raw(&d.out)) != 0) {
		die("raw open", rv);
	}
	listen_tagged(dpull, base, "direct", url, sizeof(url));
	dial_to(dpush, url);
	listen_tagged(d.in, base, "in", url, sizeof(url));
	dial_to(vpush, url);
	listen_tagged(vpull, base, "out", url, sizeof(url));
	dial_to(d.out, url);
	if (pthread_create(&th, NULL, device_loop, &d) != 0) {
		fprintf(stderr, "nngbench: pthread_create failed\n");
		exit(1);
	}

	double wall[2] = { 0 }, cpu[2] = { 0 }, scratch[2] = { 0 };
	pump(dpush, dpull, size, ROUND, &scratch[0], &scratch[1]); /* warm-up */
	pump(vpush, vpull, size, ROUND, &scratch[0], &scratch[1]);
	for (long left = count; left > 0; left -= ROUND) {
		long n = left < ROUND ? left : ROUND;
		pump(dpush, dpull, size, n, &wall[0], &cpu[0]);
		pump(vpush, vpull, size, n, &wall[1], &cpu[1]);
	}

	nng_close(d.in); /* ends nng_device */
	nng_close(d.out);
	pthread_join(th, NULL);
	if (d.rv != NNG_ECLOSED) {
		die("device", d.rv);
	}
	nng_close(dpush);
	nng_close(dpull);
	nng_close(vpush);
	nng_close(vpull);
	printf("system=nng ver=%s case=dev url=%s size=%zu n=%ld direct_s=%.4f device_s=%.4f "
	       "direct_msgs_per_s=%.0f device_msgs_per_s=%.0f x_direct=%.3f cpu_x_direct=%.3f\n",
	    nng_version(), base, size, count, wall[0], wall[1], (double) count / wall[0],
	    (double) count / wall[1], wall[1] / wall[0], cpu[1] / cpu[0]);
}

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s lat|thr|dev URL SIZE COUNT [BUF]\n", argv[0]);
		return 2;
	}
	const char *url   = argv[2];
	char       *end   = NULL;
	long        size  = strtol(argv[3], &end, 10);
	if (*end != '\0' || size < 0) {
		fprintf(stderr, "nngbench: bad SIZE %s\n", argv[3]);
		return 2;
	}
	long count = strtol(argv[4], &end, 10);
	if (*end != '\0' || count < 1) {
		fprintf(stderr, "nngbench: bad COUNT %s\n", argv[4]);
		return 2;
	}
	if (strcmp(argv[1], "lat") == 0) {
		latency(url, (size_t) size, count);
	} else if (strcmp(argv[1], "thr") == 0) {
		throughput(url, (size_t) size, count, argc > 5 ? atoi(argv[5]) : 0);
	} else if (strcmp(argv[1], "dev") == 0) {
		device(url, (size_t) size, count);
	} else {
		fprintf(stderr, "nngbench: unknown mode %s (want lat, thr or dev)\n", argv[1]);
		return 2;
	}
	return 0;
}
