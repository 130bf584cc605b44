/*
 * One descriptor as SCM_RIGHTS on a message: the control buffer sized and
 * aligned for it, and the header filled in.  For the agent's senders of a
 * descriptor (a connection's reply, the descriptor store).
 */
#ifndef FAULTLINE_SCM_H
#define FAULTLINE_SCM_H

#include <string.h>
#include <sys/socket.h>

union scm_fd_buf {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* mh carries fd with it; ctrl must live until the message is sent. */
static inline void scm_attach_fd(struct msghdr *mh, union scm_fd_buf *ctrl, int fd)
{
	struct cmsghdr *cm;

	memset(ctrl, 0, sizeof(*ctrl));
	mh->msg_control = ctrl->buf;
	mh->msg_controllen = sizeof(ctrl->buf);
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
}

#endif /* FAULTLINE_SCM_H */
