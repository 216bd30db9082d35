package org

// ManageData lets a member export the organization's data from the
// dashboard (Settings → Data & privacy). Owners and admins have it;
// closing the organization stays CloseOrg (owners only).
const ManageData Permission = "data.manage"

func init() {
	grants[Owner] = append(grants[Owner], ManageData)
	grants[Admin] = append(grants[Admin], ManageData)
}
