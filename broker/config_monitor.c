/*
 * broker.yaml's monitoring keys (control.c, metrics.c): control_socket,
 * metrics_file and metrics_interval. Called by broker_config_load once the
 * data folder is known, since the socket's default is inside it.
 */
#include <stdio.h>
#include <string.h>

#include "broker/config.h"

#define SOCKET_NAME "/control.sock"

void
broker_config_monitoring(struct yamlconf *y,
    const struct yamlconf_node *control, const struct yamlconf_node *metrics,
    const struct yamlconf_node *interval, struct broker_config *c)
{
	char path[PATH_MAX];

	if (control != NULL) {
		yamlconf_path(y, control, path, sizeof(path));
		size_t n = strlen(path);
		if (n >= sizeof(c->control_socket))
			yamlconf_error(y, control,
			    "control_socket: '%s' is longer than a unix "
			    "socket's path may be (%zu bytes)",
			    path, sizeof(c->control_socket) - 1);
		else
			memcpy(c->control_socket, path, n + 1);
	} else {
		size_t n = strlen(c->data);
		if (n + sizeof(SOCKET_NAME) <= sizeof(c->control_socket)) {
			memcpy(c->control_socket, c->data, n);
			memcpy(c->control_socket + n, SOCKET_NAME,
			    sizeof(SOCKET_NAME));
		}
	}
	yamlconf_path(y, metrics, c->metrics_file, sizeof(c->metrics_file));
	yamlconf_duration(
	    y, interval, "metrics_interval", &c->metrics_interval_ms);
	if (interval != NULL && c->metrics_interval_ms < 1000)
		yamlconf_error(y, interval,
		    "metrics_interval: at least 1s (the file is rewritten "
		    "that often)");
}
