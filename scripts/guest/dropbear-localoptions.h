/* Dropbear build options for the Typevisor default guest (copied to the
 * source tree as localoptions.h by scripts/guest/build.sh; the rest are
 * dropbear's defaults). The guest has no X server, agent or sftp-server;
 * busybox installs its applets in all four directories. */
#define DROPBEAR_X11FWD 0
#define DROPBEAR_SVR_AGENTFWD 0
#define DROPBEAR_SFTPSERVER 0
#define DEFAULT_PATH "/sbin:/bin:/usr/sbin:/usr/bin"
