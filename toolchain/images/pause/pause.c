/*
 * pause: the process that holds a pod's namespaces open (kubelet's sandbox
 * container, registry.k8s.io/pause). It does nothing until SIGINT or SIGTERM
 * ends it, and as PID 1 of a pod that shares its PID namespace it reaps the
 * zombies other containers leave behind. Built static (gcc -static), so the
 * image needs nothing else.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERSION "3.10.1"

static void on_stop(int sig)
{
	/* async-signal-safe exit; the signal number says why, as 128+sig would */
	_exit(sig == SIGINT || sig == SIGTERM ? 0 : 1);
}

static void on_child(int sig)
{
	(void)sig;
	int saved = errno;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("pause %s (orchestrator-k3s)\n", VERSION);
		return 0;
	}
	if (getpid() != 1)
		fprintf(stderr, "pause: warning: not PID 1, zombies of others will not be reaped here\n");

	struct sigaction stop = { .sa_handler = on_stop };
	struct sigaction child = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART };
	sigemptyset(&stop.sa_mask);
	sigemptyset(&child.sa_mask);
	if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
	    sigaction(SIGCHLD, &child, NULL) < 0) {
		perror("pause: sigaction");
		return 1;
	}
	for (;;)
		pause();
}
