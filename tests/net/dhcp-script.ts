/**
 * The udhcpc script the guest tests install (the default guest's /init has
 * its own; these tests run udhcpc again themselves): configure eth0, the
 * default route and resolv.conf from the lease.
 */
const DHCP_SCRIPT = [
  "#!/bin/sh",
  'case "$1" in',
  "bound|renew)",
  "ifconfig $interface $ip netmask $subnet up",
  "route add default gw $router dev $interface",
  'echo "nameserver $dns" > /etc/resolv.conf;;',
  "deconfig) ifconfig $interface 0.0.0.0 up;;",
  "esac",
];

/** A shell command that writes the script to /tmp/dhcp.sh (for `udhcpc -s /tmp/dhcp.sh`). */
export const WRITE_DHCP_SCRIPT = `printf '%s\\n' ${DHCP_SCRIPT.map((l) => `'${l}'`).join(" ")} > /tmp/dhcp.sh && chmod +x /tmp/dhcp.sh`;
