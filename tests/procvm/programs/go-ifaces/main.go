// The host's interfaces as Go sees them (net.Interfaces, Interface.Addrs,
// InterfaceByName/ByIndex, InterfaceAddrs: syscall.NetlinkRIB underneath),
// for the process VM's differential test against qemu-riscv64. Sorted, so
// the output does not depend on the order of a dump.
package main

import (
	"fmt"
	"net"
	"os"
	"sort"
)

func main() {
	ifaces, err := net.Interfaces()
	if err != nil {
		fmt.Println("net.Interfaces:", err)
		os.Exit(1)
	}
	sort.Slice(ifaces, func(i, j int) bool { return ifaces[i].Index < ifaces[j].Index })
	for _, ifi := range ifaces {
		fmt.Printf("%d %s mtu %d flags %v mac %q\n", ifi.Index, ifi.Name, ifi.MTU, ifi.Flags, ifi.HardwareAddr.String())
		addrs, err := ifi.Addrs()
		if err != nil {
			fmt.Println("  Addrs:", err)
			continue
		}
		var list []string
		for _, a := range addrs {
			list = append(list, a.Network()+" "+a.String())
		}
		sort.Strings(list)
		for _, a := range list {
			fmt.Println("  ", a)
		}
	}

	lo, err := net.InterfaceByName("lo")
	if err != nil {
		fmt.Println("InterfaceByName(lo):", err)
	} else {
		byIndex, err := net.InterfaceByIndex(lo.Index)
		fmt.Printf("InterfaceByName(lo) = %d; InterfaceByIndex(%d) = %s %v\n", lo.Index, lo.Index, byIndex.Name, err)
	}
	_, err = net.InterfaceByName("nosuch0")
	fmt.Println("InterfaceByName(nosuch0):", err)
	_, err = net.InterfaceByIndex(999999)
	fmt.Println("InterfaceByIndex(999999):", err)

	all, err := net.InterfaceAddrs()
	if err != nil {
		fmt.Println("InterfaceAddrs:", err)
		os.Exit(1)
	}
	var list []string
	for _, a := range all {
		list = append(list, a.String())
	}
	sort.Strings(list)
	fmt.Println("InterfaceAddrs:", list)
}
