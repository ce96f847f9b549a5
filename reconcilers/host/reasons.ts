// Reasons a Host reports about its probe (connection problems use the ssh and docker layers' own).
import { defineReasons } from '../../controller/reasons.ts';

export const HostReasons = defineReasons('host', {
  Reachable: 'Every service the Host declares (SSH, Docker, nginx) answered the probe',
  DockerUnreachable: "The Host's Docker engine did not answer the probe",
});
