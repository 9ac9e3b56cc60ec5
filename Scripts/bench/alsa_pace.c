/*
 * alsa_pace.c — LD_PRELOAD shim for Scripts/bench-call-media: paces snd_pcm_readi and
 * snd_pcm_writei in real time, and logs when each PCM moved its first frame.
 *
 * Why: baresip's ALSA module blocks in snd_pcm_readi/writei and relies on the device for
 * timing. ALSA's `file` plugin over a `null` slave (the file-backed devices the benchmark
 * uses for both clients) returns at once, so without this baresip would run unpaced.
 * Dialtone paces those devices itself (FramePacer in Sources/DialtoneMedia/Audio/
 * ALSADevice.swift: absolute CLOCK_MONOTONIC deadlines one frame apart). This shim applies
 * the same schedule from outside:
 *   capture   the call that reads frames [n, n+k) returns at start + n / rate (the first at
 *             once), as Dialtone's capture thread hands frame n on at start + n·20 ms;
 *   playback  the call that writes frames [n, n+k) starts at start + n / rate, as Dialtone's
 *             playback thread writes frame n at start + n·20 ms.
 * A thread that falls more than three periods behind starts its schedule again from now,
 * as FramePacer does (counted as a stall in the log).
 *
 * Log ($BENCH_PACE_LOG, one line each, CLOCK_MONOTONIC nanoseconds like Dialtone's
 * "capture: first frame at N ns (monotonic)"):
 *   first <capture|playback> <pcm name> <ns> rate <hz>
 *   close <capture|playback> <pcm name> frames <n> stalls <n>
 *
 * Build: cc -shared -fPIC -O2 -o alsa_pace.so alsa_pace.c -ldl
 */
#define _GNU_SOURCE
#include <alsa/asoundlib.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 32

struct pace {
	snd_pcm_t *pcm;
	int64_t start;     /* monotonic ns of frame 0 */
	uint64_t frames;   /* frames moved so far */
	unsigned rate;
	unsigned stalls;
};

static struct pace slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t deadline)
{
	struct timespec ts = { .tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
	}
}

static void logf_line(const char *fmt, ...)
{
	const char *path = getenv("BENCH_PACE_LOG");
	char line[512];
	va_list ap;
	int n, fd;
	if (!path || !*path)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

static const char *direction(snd_pcm_t *pcm)
{
	return snd_pcm_stream(pcm) == SND_PCM_STREAM_CAPTURE ? "capture" : "playback";
}

/* The slot for pcm; a new one (frames 0) the first time. NULL when all are taken. */
static struct pace *slot_for(snd_pcm_t *pcm)
{
	struct pace *found = NULL, *free_slot = NULL;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].pcm == pcm) {
			found = &slots[i];
			break;
		}
		if (!slots[i].pcm && !free_slot)
			free_slot = &slots[i];
	}
	if (!found && free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->pcm = pcm;
		found = free_slot;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

static unsigned pcm_rate(snd_pcm_t *pcm)
{
	snd_pcm_hw_params_t *params;
	unsigned rate = 0;
	int dir = 0;
	snd_pcm_hw_params_alloca(&params);
	if (snd_pcm_hw_params_current(pcm, params) < 0 || snd_pcm_hw_params_get_rate(params, &rate, &dir) < 0 || !rate)
		rate = 48000;
	return rate;
}

/* Sleeps until the deadline of the next frame (not called for the first). */
static void wait_turn(struct pace *p, snd_pcm_uframes_t size)
{
	int64_t deadline = p->start + (int64_t)(p->frames * 1000000000ull / p->rate);
	int64_t period = (int64_t)size * 1000000000 / p->rate;
	int64_t now = now_ns();
	if (now - deadline > 3 * period) {
		/* Fell far behind: start again from now, as Dialtone's FramePacer does. */
		p->start += now - deadline;
		p->stalls++;
		return;
	}
	if (deadline > now)
		sleep_until(deadline);
}

snd_pcm_sframes_t snd_pcm_readi(snd_pcm_t *pcm, void *buffer, snd_pcm_uframes_t size)
{
	static snd_pcm_sframes_t (*real)(snd_pcm_t *, void *, snd_pcm_uframes_t);
	struct pace *p;
	snd_pcm_sframes_t result;
	int first;
	if (!real)
		real = (snd_pcm_sframes_t (*)(snd_pcm_t *, void *, snd_pcm_uframes_t))dlsym(RTLD_NEXT, "snd_pcm_readi");
	if (inside || !(p = slot_for(pcm)))
		return real(pcm, buffer, size);
	inside = 1;
	first = p->frames == 0 && p->start == 0;
	if (first) {
		p->rate = pcm_rate(pcm);
		p->start = now_ns();
	} else {
		wait_turn(p, size);
	}
	result = real(pcm, buffer, size);
	if (result > 0) {
		if (first)
			logf_line("first capture %s %lld rate %u\n", snd_pcm_name(pcm), (long long)now_ns(), p->rate);
		p->frames += (uint64_t)result;
	} else if (first) {
		p->start = 0;
	}
	inside = 0;
	return result;
}

snd_pcm_sframes_t snd_pcm_writei(snd_pcm_t *pcm, const void *buffer, snd_pcm_uframes_t size)
{
	static snd_pcm_sframes_t (*real)(snd_pcm_t *, const void *, snd_pcm_uframes_t);
	struct pace *p;
	snd_pcm_sframes_t result;
	if (!real)
		real = (snd_pcm_sframes_t (*)(snd_pcm_t *, const void *, snd_pcm_uframes_t))dlsym(RTLD_NEXT, "snd_pcm_writei");
	if (inside || !(p = slot_for(pcm)))
		return real(pcm, buffer, size);
	inside = 1;
	if (p->frames == 0 && p->start == 0) {
		p->rate = pcm_rate(pcm);
		p->start = now_ns();
		logf_line("first playback %s %lld rate %u\n", snd_pcm_name(pcm), (long long)p->start, p->rate);
	} else {
		wait_turn(p, size);
	}
	result = real(pcm, buffer, size);
	if (result > 0)
		p->frames += (uint64_t)result;
	inside = 0;
	return result;
}

int snd_pcm_close(snd_pcm_t *pcm)
{
	static int (*real)(snd_pcm_t *);
	if (!real)
		real = (int (*)(snd_pcm_t *))dlsym(RTLD_NEXT, "snd_pcm_close");
	if (!inside) {
		pthread_mutex_lock(&lock);
		for (int i = 0; i < SLOTS; i++) {
			if (slots[i].pcm == pcm) {
				if (slots[i].frames)
					logf_line("close %s %s frames %llu stalls %u\n", direction(pcm), snd_pcm_name(pcm),
						  (unsigned long long)slots[i].frames, slots[i].stalls);
				slots[i].pcm = NULL;
			}
		}
		pthread_mutex_unlock(&lock);
	}
	return real(pcm);
}
